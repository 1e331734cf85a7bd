// Integrations: the incoming webhooks with their URL (copy), a preset applied from a form (its
// parameters, required ones marked, the secrets it needs), Draft from payload, and the spec editor: the
// spec as JSON or YAML beside a sample payload (typed, from the request log or from the provider's
// captured samples) with a live preview (chats, messages, skipped reasons), the 422 field errors beside the
// spec and syntax errors with their line and column.

import {API_ROOT, query, webhookUrl} from '../api.js';
import {announce, clear, copyText, debounce, h, pretty} from '../dom.js';
import {FORMATS, SpecTextError, formatSpec, lineOfField, offsetOf, parseSpec} from '../spec_text.js';
import {SAMPLE_KEY} from './requests.js';

const PREVIEW_DELAY_MS = 400;
const FORMAT_KEY = 'chatbridge.console.spec-format';

const MASK = '••••••••';

/** The URL the provider must be configured with, as the spec's verification wants it: open-wa's shared
 *  secret rides in the query (shown masked, copied whole), Twilio signs the exact URL its console holds. */
export function providerUrl(spec) {
  const verification = spec.verification || {};
  const secret = verification.shared_secret;
  if (secret && secret.query) {
    const base = webhookUrl(spec.identifier);
    const name = encodeURIComponent(secret.query);
    return {url: `${base}?${name}=${encodeURIComponent(secret.value)}`, shown: `${base}?${name}=${MASK}`,
            note: `its ${secret.query} included`};
  }
  if (verification.twilio && verification.twilio.url) {
    return {url: verification.twilio.url, shown: verification.twilio.url, note: null};
  }
  const url = webhookUrl(spec.identifier);
  return {url, shown: url, note: null};
}

function specLabel(format) {
  return `Spec (${format.toUpperCase()})`;
}

export class IntegrationsView {
  constructor(api, root, args) {
    this.api = api;
    this.root = root;
    this.update(args);
  }

  destroy() {}

  update(args) {
    const [first, second] = args || [];
    if (first === 'edit' && second) this.editor(decodeURIComponent(second));
    else if (first === 'new') this.editor(null);
    else this.overview();
  }

  // -- overview -------------------------------------------------------------------------------------

  async overview() {
    const table = h('tbody');
    this.presetCard = h('section', {class: 'card', 'aria-labelledby': 'preset-title'},
      h('h2', {id: 'preset-title'}, 'Apply a preset'), h('p', {class: 'muted'}, 'Loading presets…'));
    const draftPayload = h('textarea', {id: 'draft-payload', rows: 6, spellcheck: 'false',
                                        placeholder: '{"message": {"text": "..."}}'});
    const draftErrors = h('div', {id: 'draft-errors', class: 'field-error', role: 'alert'});
    clear(this.root, h('div', {class: 'page'},
      h('h1', {}, 'Integrations'),
      h('p', {}, h('a', {href: '#/integrations/new'}, 'New incoming webhook (spec editor)')),
      h('table', {class: 'grid', 'aria-label': 'Incoming webhooks'}, h('thead', {}, h('tr', {},
        ['Name', 'Identifier', 'Scope', 'Preset', 'Webhook URL', ''].map(t => h('th', {scope: 'col'}, t)))), table),
      this.presetCard,
      h('section', {class: 'card', 'aria-labelledby': 'draft-title'},
        h('h2', {id: 'draft-title'}, 'Draft from payload'),
        h('p', {class: 'muted'}, 'Paste a payload a provider sends; get a proposed spec (where the messages, chat id, sender, text and image seem to be) to start from.'),
        h('label', {for: 'draft-payload'}, 'Payload'), draftPayload, draftErrors,
        h('button', {type: 'button', id: 'draft-button', onclick: () => this.draft(draftPayload.value, draftErrors)},
          'Draft a spec'))));
    try {
      const {incoming_webhooks: specs} = await this.api.get('admin/incoming-webhooks');
      clear(table, specs.length ? specs.map(spec => this.specRow(spec)) :
        h('tr', {}, h('td', {colspan: 6, class: 'muted'}, 'No incoming webhooks yet.')));
    } catch (error) {
      announce(`Could not load integrations: ${error.reason}`, 'error');
    }
    this.presetForm();
  }

  specRow(spec) {
    const {url, shown, note} = providerUrl(spec);
    return h('tr', {dataset: {identifier: spec.identifier}},
      h('td', {}, spec.name, spec.enabled === false ? ' (disabled)' : ''), h('td', {}, h('code', {}, spec.identifier)),
      h('td', {}, spec.scope || ''), h('td', {}, spec.preset || ''),
      h('td', {}, h('code', {class: 'url'}, shown), ' ',
        h('button', {type: 'button', 'aria-label': `Copy the webhook URL of ${spec.name}`,
                     onclick: async () => announce(await copyText(url) ? `Copied ${shown}${note ? ` (${note})` : ''}` : 'Copy failed')}, 'Copy'),
        note ? h('div', {class: 'hint'}, `Copy gives the complete URL, ${note}.`) : null),
      h('td', {}, h('a', {href: `#/integrations/edit/${encodeURIComponent(spec.identifier)}`}, 'Edit'), ' · ',
        h('a', {href: `#/requests/${encodeURIComponent(spec.identifier)}`}, 'Request log')));
  }

  async presetForm() {
    let presets;
    try {
      ({presets} = await this.api.get('admin/presets'));
    } catch (error) {
      clear(this.presetCard, h('h2', {id: 'preset-title'}, 'Apply a preset'),
        h('p', {class: 'muted'}, `Presets are unavailable: ${error.reason}`));
      return;
    }
    const select = h('select', {id: 'preset-name'}, presets.map(p => h('option', {value: p.name}, `${p.name}: ${p.provider || p.title || ''}`)));
    const fields = h('div', {class: 'preset-form'});
    const result = h('div', {id: 'preset-result', role: 'region', 'aria-label': 'Preset result'});
    const form = h('form', {id: 'preset-form', onsubmit: e => { e.preventDefault(); this.applyPreset(presets, select.value, form, result); }},
      h('div', {class: 'preset-form'}, h('label', {for: 'preset-name'}, 'Preset'), select), fields,
      h('button', {type: 'submit'}, 'Apply preset'));
    const renderFields = () => {
      const preset = presets.find(p => p.name === select.value);
      clear(fields,
        h('label', {for: 'preset-identifier', class: 'required'}, 'Identifier'),
        h('input', {id: 'preset-identifier', name: 'identifier', required: true, pattern: '[A-Za-z0-9_-]{4,64}',
                    'aria-describedby': 'preset-identifier-hint'}),
        h('span', {class: 'hint', id: 'preset-identifier-hint'}, 'the URL part: /webhooks/incoming/<identifier>'),
        (preset.parameters || []).map(param => {
          const id = `preset-param-${param.name}`;
          return [
            h('label', {for: id, class: param.required ? 'required' : ''}, param.name),
            h('input', {id, name: param.name, required: param.required, value: param.default ?? '',
                        'aria-describedby': `${id}-hint`, dataset: {param: param.name}}),
            h('span', {class: 'hint', id: `${id}-hint`},
              param.secret ? `${param.description}: the NAME of an SSM parameter, optional (default /chatbridge/<identifier>/${param.name}); its value is stored after applying, never as text`
                           : (param.description || '')),
          ];
        }));
    };
    select.addEventListener('change', renderFields);
    renderFields();
    clear(this.presetCard, h('h2', {id: 'preset-title'}, 'Apply a preset'), form, result);
  }

  async applyPreset(presets, name, form, result) {
    const values = {};
    for (const input of form.querySelectorAll('input[data-param]')) {
      if (input.value.trim()) values[input.dataset.param] = input.value.trim();
    }
    const identifier = form.querySelector('#preset-identifier').value.trim();
    clear(result);
    try {
      const answer = await this.api.post(`admin/presets/${encodeURIComponent(name)}/apply`,
                                           {identifier, values, webhook_base: API_ROOT.href.replace(/\/$/, '')});
      announce(`Preset ${name} applied as ${identifier}`);
      const url = answer.webhook_url || webhookUrl(identifier);  // with the query a preset adds (open-wa's secret)
      clear(result, h('h3', {}, 'Applied'),
        h('p', {}, 'Webhook URL to give the provider: ', h('code', {id: 'preset-webhook-url'}, url), ' ',
          h('button', {type: 'button', onclick: async () => announce(await copyText(url) ? 'Copied' : 'Copy failed')}, 'Copy')),
        (answer.secrets || []).length ? [
          h('h3', {}, 'Secrets the replies need'),
          answer.secrets.map(secret => this.secretForm(secret)),
        ] : h('p', {class: 'muted'}, 'No secrets needed.'),
        (answer.setup || []).length ? [h('h3', {}, "On the provider's side"),
          h('ol', {}, answer.setup.map(step => h('li', {}, h('code', {}, step))))] : null);
    } catch (error) {
      const errors = (error.data && error.data.errors) || [];
      clear(result, h('p', {class: 'field-error', role: 'alert'}, error.reason),
        errors.map(e => h('p', {class: 'field-error'}, `${e.field}: ${e.reason}`)));
      for (const e of errors) {
        const input = form.querySelector(`[name="${CSS.escape(String(e.field).split('.').pop())}"]`);
        if (input) input.setAttribute('aria-invalid', 'true');
      }
      announce(`Preset not applied: ${error.reason}`, 'error');
    }
  }

  secretForm(secret) {
    const id = `secret-${secret.name.replace(/[^A-Za-z0-9]/g, '-')}`;
    const input = h('input', {id, type: 'password', autocomplete: 'off'});
    const note = h('span', {class: 'hint'}, secret.help || secret.description || '');
    return h('form', {class: 'preset-form secret', onsubmit: async e => {
      e.preventDefault();
      try {
        await this.api.put(`admin/secrets/${secret.name.replace(/^\//, '')}`, {value: input.value});
        input.value = '';
        note.textContent = 'stored';
        announce(`Secret ${secret.name} stored`);
      } catch (error) {
        note.textContent = error.reason;
        announce(`Secret not stored: ${error.reason}`, 'error');
      }
    }}, h('label', {for: id}, secret.name), input, h('button', {type: 'submit'}, 'Store secret'), note);
  }

  async draft(text, errors) {
    errors.textContent = '';
    let payload;
    try { payload = JSON.parse(text); } catch (error) {
      errors.textContent = `The payload is not JSON: ${error.message}`;
      return;
    }
    try {
      const answer = await this.api.post('admin/spec-drafts', {payload});
      sessionStorage.setItem('chatbridge.console.draft', pretty(answer.spec));
      sessionStorage.setItem(SAMPLE_KEY, text);
      location.hash = '#/integrations/new';
    } catch (error) {
      errors.textContent = error.reason;
    }
  }

  // -- spec editor ----------------------------------------------------------------------------------

  async editor(identifier) {
    this.format = FORMATS.includes(localStorage.getItem(FORMAT_KEY)) ? localStorage.getItem(FORMAT_KEY) : 'json';
    this.specLabel = h('label', {for: 'spec-text'}, specLabel(this.format));
    this.specArea = h('textarea', {id: 'spec-text', spellcheck: 'false', 'aria-describedby': 'spec-errors'});
    this.sampleArea = h('textarea', {id: 'sample-payload', spellcheck: 'false', 'aria-describedby': 'sample-source'});
    this.sampleSource = h('p', {id: 'sample-source', class: 'hint'});
    this.specErrors = h('div', {id: 'spec-errors', class: 'field-errors', 'aria-live': 'polite'});
    this.preview = h('section', {class: 'preview card', id: 'preview', 'aria-label': 'Preview', 'aria-live': 'polite'});
    this.requestSelect = h('select', {id: 'sample-request'}, h('option', {value: ''}, 'Load from the request log…'));
    this.providerSelect = h('select', {id: 'sample-provider'}, h('option', {value: ''}, "Load from a provider's samples…"));
    const formats = h('fieldset', {class: 'formats'}, h('legend', {}, 'Spec format'),
      FORMATS.map(format => h('label', {}, h('input', {type: 'radio', name: 'spec-format', value: format,
        checked: format === this.format, onchange: e => this.switchFormat(e.target.value)}), ` ${format.toUpperCase()}`)));
    const saveButton = h('button', {type: 'button', id: 'save-spec', onclick: () => this.save()}, 'Save');
    clear(this.root, h('div', {class: 'page'},
      h('h1', {}, identifier ? `Edit ${identifier}` : 'New incoming webhook'),
      h('p', {}, h('a', {href: '#/integrations'}, '← Integrations')),
      h('div', {class: 'editor'},
        h('div', {}, h('div', {class: 'editor-bar'}, this.specLabel, formats), this.specArea, this.specErrors),
        h('div', {}, h('div', {class: 'editor-bar'}, h('label', {for: 'sample-payload'}, 'Sample payload')),
          this.sampleArea,
          h('div', {class: 'sample-pickers'},
            h('label', {for: 'sample-request', class: 'visually-hidden'}, 'Sample from the request log'), this.requestSelect,
            h('label', {for: 'sample-provider', class: 'visually-hidden'}, "Sample from the provider's sample set"),
            this.providerSelect),
          this.sampleSource)),
      h('p', {}, saveButton),
      this.preview));
    const schedule = debounce(() => this.refreshPreview(), PREVIEW_DELAY_MS);
    this.specArea.addEventListener('input', schedule);
    this.sampleArea.addEventListener('input', () => { this.sampleSource.textContent = ''; schedule(); });
    this.requestSelect.addEventListener('change', () => {
      const chosen = this.requests?.[Number(this.requestSelect.value)];
      if (chosen) this.useSample(typeof chosen.body === 'string' ? chosen.body : pretty(chosen.body), 'From the request log');
    });
    this.providerSelect.addEventListener('change', () => this.loadProviderSample(this.providerSelect.value));
    const draft = sessionStorage.getItem('chatbridge.console.draft');
    sessionStorage.removeItem('chatbridge.console.draft');
    const sample = sessionStorage.getItem(SAMPLE_KEY);
    sessionStorage.removeItem(SAMPLE_KEY);
    if (sample) this.sampleArea.value = sample;  // before any await: what the admin types must not be replaced
    let spec = null;
    if (identifier) {
      try {
        spec = await this.api.get(`admin/incoming-webhooks/${encodeURIComponent(identifier)}`);
        for (const field of ['id', 'created_at', 'updated_at', 'webhook_path']) delete spec[field];
      } catch (error) {
        announce(`Could not load ${identifier}: ${error.reason}`, 'error');
      }
      this.loadRequests(identifier);
    } else {
      spec = draft ? JSON.parse(draft) : {identifier: 'my-provider', name: 'My provider', messages: '', chat_id: 'from',
                                          nick: 'name', text: [{conditions: '', body: '{{msg.text}}'}]};
    }
    this.loadProviderSamples(spec?.preset);
    if (spec && !this.specArea.value) this.specArea.value = await formatSpec(spec, this.format);
    this.refreshPreview();
  }

  async loadRequests(identifier) {
    try {
      const {requests} = await this.api.get(`admin/incoming-webhooks/${encodeURIComponent(identifier)}/requests${query({limit: 20})}`);
      this.requests = requests;
      for (const [index, request] of requests.entries()) {
        this.requestSelect.append(h('option', {value: String(index)},
          `${new Date((request.received_at || request.created_at || 0) * 1000).toLocaleString()} ${request.status ?? ''}`));
      }
    } catch {
      // no log for this integration: the select stays with its prompt
    }
  }

  /** Every preset's captured payloads, grouped by preset; the spec's own preset first. */
  async loadProviderSamples(preset) {
    let presets;
    try {
      ({presets} = await this.api.get('admin/presets'));
    } catch (error) {
      this.providerSelect.disabled = true;
      this.providerSelect.title = `Samples unavailable: ${error.reason}`;
      return;
    }
    const ordered = [...presets].sort((a, b) => (b.name === preset) - (a.name === preset));
    for (const each of ordered) {
      if (!(each.samples || []).length) continue;
      this.providerSelect.append(h('optgroup', {label: `${each.name}: ${each.provider}`},
        each.samples.map(sample => h('option', {value: `${each.name}/${sample.name}`}, sample.title))));
    }
  }

  async loadProviderSample(value) {
    if (!value) return;
    const [preset, name] = value.split('/');
    this.presetSamples = this.presetSamples || new Map();
    try {
      if (!this.presetSamples.has(preset)) {
        const {samples} = await this.api.get(`admin/presets/${encodeURIComponent(preset)}/samples`);
        this.presetSamples.set(preset, samples);
      }
    } catch (error) {
      announce(`Could not load the samples of ${preset}: ${error.reason}`, 'error');
      return;
    }
    const sample = this.presetSamples.get(preset).find(each => each.name === name);
    if (sample) this.useSample(sample.body, `${preset} sample "${sample.title}", from ${sample.source}`);
  }

  useSample(body, source) {
    this.sampleArea.value = body;
    this.sampleSource.textContent = source;
    announce(`Sample loaded: ${source}`);
    this.refreshPreview();
  }

  /** The spec in the other format; the text must read in the current one first (nothing is lost). */
  async switchFormat(format) {
    if (format === this.format) return;
    let spec;
    try {
      spec = await parseSpec(this.specArea.value, this.format);
    } catch (error) {
      if (!(error instanceof SpecTextError)) throw error;
      this.root.querySelector(`input[name="spec-format"][value="${this.format}"]`).checked = true;
      this.showTextError(error);
      announce(`Fix the ${this.format.toUpperCase()} before switching to ${format.toUpperCase()}`, 'error');
      return;
    }
    this.format = format;
    localStorage.setItem(FORMAT_KEY, format);
    this.specLabel.textContent = specLabel(format);
    this.specArea.value = await formatSpec(spec, format);
    announce(`Spec shown as ${format.toUpperCase()}`);
    this.refreshPreview();
  }

  async refreshPreview() {
    const turn = this.previewTurn = (this.previewTurn || 0) + 1;  // only the latest edit's answer is shown
    let spec;
    try {
      spec = await parseSpec(this.specArea.value, this.format);
    } catch (error) {
      if (!(error instanceof SpecTextError)) throw error;
      if (turn === this.previewTurn) this.showTextError(error);
      return;
    }
    const sampleText = this.sampleArea.value.trim();
    let sample = {payload: null};
    if (sampleText) {
      try { sample = {payload: JSON.parse(sampleText)}; } catch {
        // not JSON: read as the form fields some providers post (Twilio, Vonage), as the webhook route would
        sample = {body: sampleText, content_type: 'application/x-www-form-urlencoded'};
      }
    }
    try {
      const result = await this.api.post('admin/spec-previews', {spec, ...sample});
      if (turn !== this.previewTurn) return;
      this.showErrors([]);
      this.showPreview(result, Boolean(sampleText));
    } catch (error) {
      if (turn !== this.previewTurn) return;
      if (error.status === 422 && error.data?.errors) {
        this.showErrors(error.data.errors);
        clear(this.preview, h('p', {class: 'muted'}, 'Fix the spec to see the preview.'));
      } else {
        this.showErrors([{field: 'request', reason: error.reason}]);
      }
    }
  }

  /** Put the caret where a field or a syntax error is (the line the error names). */
  goTo(line, column = 1) {
    const offset = offsetOf(this.specArea.value, line, column);
    this.specArea.focus();
    this.specArea.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(this.specArea).lineHeight) || 18;
    this.specArea.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  lineButton(line, column) {
    const text = column ? `line ${line}, column ${column}` : `line ${line}`;
    return h('button', {type: 'button', class: 'link', 'aria-label': `Go to ${text}`,
                        onclick: () => this.goTo(line, column || 1)}, text);
  }

  showTextError(error) {
    this.specArea.setAttribute('aria-invalid', 'true');
    clear(this.specErrors, h('div', {class: 'field-error syntax', dataset: {field: error.format.toUpperCase()}},
      h('p', {}, h('strong', {}, `Not valid ${error.format.toUpperCase()}`),
        error.line ? [' (', this.lineButton(error.line, error.column), ')'] : '', `: ${error.reason}`),
      error.snippet ? h('pre', {class: 'snippet'}, error.snippet) : null));
    clear(this.preview, h('p', {class: 'muted'}, `Fix the ${error.format.toUpperCase()} to see the preview.`));
  }

  showErrors(errors) {
    this.specArea.setAttribute('aria-invalid', errors.length ? 'true' : 'false');
    clear(this.specErrors, errors.map(error => {
      const line = lineOfField(this.specArea.value, error.field);
      return h('p', {class: 'field-error', dataset: {field: error.field}},
        h('strong', {}, error.field), line >= 0 ? [' (', this.lineButton(line + 1), ')'] : '', `: ${error.reason}`);
    }));
  }

  showPreview(result, hasPayload) {
    if (!hasPayload) {
      clear(this.preview, h('h2', {}, 'Preview'), h('p', {class: 'muted'}, 'Paste a sample payload to see what it would store.'));
      return;
    }
    const chats = result.chats || [];
    const skipped = result.skipped || [];
    clear(this.preview, h('h2', {}, 'Preview'),
      result.accepted === false ? h('p', {class: 'field-error'}, `Ignored: ${result.reason}`) : null,
      h('p', {}, `${chats.length} chat(s), ${chats.reduce((n, c) => n + (c.messages || []).length, 0)} message(s), ${skipped.length} skipped`),
      chats.map(chat => h('div', {class: 'preview-chat'},
        h('h3', {}, `${chat.nick} (${chat.chat_external_id})`),
        h('ol', {}, (chat.messages || []).map(m => h('li', {}, h('span', {class: 'badge'}, m.kind), ' ', m.body))))),
      skipped.length ? [h('h3', {}, 'Skipped'),
        h('ul', {class: 'skipped'}, skipped.map(s => h('li', {}, `message ${s.index}: ${s.reason}`)))] : null);
  }

  async save() {
    let spec;
    try { spec = await parseSpec(this.specArea.value, this.format); } catch (error) {
      if (!(error instanceof SpecTextError)) throw error;
      this.showTextError(error);
      announce(`Not saved: ${error.message}`, 'error');
      return;
    }
    if (!spec.identifier) {
      this.showErrors([{field: 'identifier', reason: 'required'}]);
      return;
    }
    try {
      const stored = await this.api.put(`admin/incoming-webhooks/${encodeURIComponent(spec.identifier)}`, spec);
      announce(`Saved ${stored.identifier} (id ${stored.id})`);
      this.showErrors([]);
    } catch (error) {
      if (error.data?.errors) this.showErrors(error.data.errors);
      announce(`Not saved: ${error.reason}`, 'error');
    }
  }
}
