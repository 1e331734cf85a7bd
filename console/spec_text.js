// A spec as text, in JSON or YAML: parse with the error's line and column, write it back out, find the line
// a field is on. YAML is read in the browser with the vendored js-yaml (loaded on first use, so a JSON-only
// admin never downloads it), with its core schema: the values JSON has, no dates or YAML 1.1 yes/no
// booleans, so what the preview sees is what the admin API stores. Written YAML quotes the strings YAML 1.1
// would read otherwise ('on', 'yes', '0755'), so the same file means the same with PyYAML (the CLI).

export const FORMATS = ['json', 'yaml'];

let yamlModule = null;

async function yaml() {
  yamlModule = yamlModule || await import('./vendor/js-yaml.js');
  return yamlModule;
}

/** A text the admin typed cannot be read: where (1-based line and column) and why. */
export class SpecTextError extends Error {
  constructor(format, reason, line = null, column = null, snippet = null) {
    super(line ? `${format.toUpperCase()} line ${line}, column ${column}: ${reason}` : `${format.toUpperCase()}: ${reason}`);
    this.format = format;
    this.reason = reason;
    this.line = line;
    this.column = column;
    this.snippet = snippet;
  }
}

function lineAndColumn(text, position) {
  const before = text.slice(0, position).split('\n');
  return [before.length, before[before.length - 1].length + 1];
}

function jsonError(text, error) {
  const message = String(error.message);
  const at = /at position (\d+)/.exec(message);
  const reason = message.replace(/^JSON\.parse: /, '').replace(/,? in JSON at position \d+.*$/s, '')
    .replace(/ at line \d+ column \d+ of the JSON data$/, '');
  if (at) {
    const [line, column] = lineAndColumn(text, Number(at[1]));
    return new SpecTextError('json', reason, line, column);
  }
  if (/end of JSON input|Unexpected end/i.test(message)) {
    const [line, column] = lineAndColumn(text, text.length);
    return new SpecTextError('json', reason, line, column);
  }
  return new SpecTextError('json', reason);
}

/** The spec a text describes; throws SpecTextError. An empty text or a non-object is an error too. */
export async function parseSpec(text, format) {
  let value;
  if (format === 'yaml') {
    const {load, CORE_SCHEMA, YAMLException} = await yaml();
    try {
      value = load(text, {schema: CORE_SCHEMA});
    } catch (error) {
      if (!(error instanceof YAMLException)) throw error;
      const mark = error.mark || {};
      throw new SpecTextError('yaml', error.reason || error.message, (mark.line ?? -1) + 1 || null,
                              (mark.column ?? -1) + 1 || null, mark.snippet || null);
    }
  } else {
    try { value = JSON.parse(text); } catch (error) { throw jsonError(text, error); }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SpecTextError(format, 'a spec is an object of fields (identifier, name, messages, ...)', 1, 1);
  }
  return value;
}

/** The spec written out in a format (JSON indented by 2; YAML block style, long strings unfolded). */
export async function formatSpec(value, format) {
  if (format === 'yaml') {
    const {dump} = await yaml();
    return dump(value, {lineWidth: -1, noRefs: true});
  }
  return JSON.stringify(value, null, 2);
}

/** The 0-based line where a top-level field is written, or -1 (either format: `"key":` or `key:`). */
export function lineOfField(text, field) {
  const key = String(field).split('.')[0];
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^\\s*(?:"${escaped}"|'${escaped}'|${escaped})\\s*:`);
  return text.split('\n').findIndex(line => pattern.test(line));
}

/** The character offset of a 1-based line and column (to put the caret where an error is). */
export function offsetOf(text, line, column = 1) {
  const lines = text.split('\n');
  let offset = 0;
  for (let index = 0; index < Math.min(line - 1, lines.length); index++) offset += lines[index].length + 1;
  return offset + Math.max(0, column - 1);
}
