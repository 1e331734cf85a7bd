// Request log: what a provider really sent to an integration that keeps a log (spec field log_requests),
// with its outcome; one opened in full, and "use as sample" hands its body to the spec editor.

import {announce, clear, dateTimeOf, h, pretty} from '../dom.js';

export const SAMPLE_KEY = 'chatbridge.console.sample';

/** One line for what the ingest answered: ok with counts, ignored or an error with its reason. */
function outcomeText(outcome) {
  if (!outcome || typeof outcome !== 'object') return String(outcome ?? '');
  const counts = ['chats', 'messages', 'duplicates', 'skipped']
    .filter(key => outcome[key] !== undefined && key !== 'chats')
    .map(key => `${key} ${Array.isArray(outcome[key]) ? outcome[key].length : outcome[key]}`);
  return [outcome.status, outcome.reason, counts.join(', ')].filter(Boolean).join(' · ');
}

export class RequestsView {
  constructor(api, root, args) {
    this.api = api;
    this.root = root;
    this.select = h('select', {id: 'requests-incoming', onchange: () => this.load()});
    this.filter = h('input', {id: 'requests-filter', type: 'search', oninput: () => this.render()});
    this.table = h('tbody');
    this.detail = h('section', {class: 'detail', 'aria-label': 'Request'});
    this.note = h('p', {class: 'muted'});
    clear(root, h('div', {class: 'page'},
      h('h1', {}, 'Request log'),
      h('div', {class: 'filters'},
        h('label', {for: 'requests-incoming'}, 'Integration'), this.select,
        h('label', {for: 'requests-filter'}, 'Filter'), this.filter,
        h('button', {type: 'button', onclick: () => this.load()}, 'Refresh')),
      this.note,
      h('table', {class: 'grid'}, h('thead', {}, h('tr', {},
        ['When', 'Method', 'Status', 'Outcome', ''].map(t => h('th', {scope: 'col'}, t)))), this.table),
      this.detail));
    this.start(args && args[0]);
  }

  destroy() {}

  async start(identifier) {
    try {
      const {incoming_webhooks: specs} = await this.api.get('admin/incoming-webhooks');
      clear(this.select, specs.map(s => h('option', {value: s.identifier}, `${s.name} (${s.identifier})`)));
      if (identifier) this.select.value = decodeURIComponent(identifier);
      if (specs.length) this.load();
      else this.note.textContent = 'No integrations yet.';
    } catch (error) {
      announce(`Could not load integrations: ${error.reason}`, 'error');
    }
  }

  async load() {
    const identifier = this.select.value;
    try {
      const answer = await this.api.get(`admin/incoming-webhooks/${encodeURIComponent(identifier)}/requests`);
      this.items = answer.requests || [];
      this.note.textContent = answer.log_requests ? '' :
        'This integration does not keep a request log: set "log_requests": true in its spec.';
    } catch (error) {
      announce(`Could not load the request log: ${error.reason}`, 'error');
      this.items = [];
    }
    this.render();
  }

  render() {
    const needle = this.filter.value.toLowerCase();
    const rows = (this.items || []).filter(r => !needle || JSON.stringify(r).toLowerCase().includes(needle))
      .map(r => h('tr', {},
        h('td', {}, dateTimeOf(r.received_at)), h('td', {}, r.method || ''),
        h('td', {}, String(r.status ?? '')), h('td', {}, outcomeText(r.outcome).slice(0, 120)),
        h('td', {}, h('button', {type: 'button', onclick: () => this.open(r)}, 'Open'),
          h('button', {type: 'button', onclick: () => this.useAsSample(r)}, 'Use as sample'))));
    clear(this.table, rows.length ? rows : h('tr', {}, h('td', {colspan: 5, class: 'muted'}, 'No requests logged.')));
  }

  open(request) {
    clear(this.detail, h('h2', {}, 'Request'), h('pre', {}, pretty(request)));
  }

  useAsSample(request) {
    sessionStorage.setItem(SAMPLE_KEY, typeof request.body === 'string' ? request.body : pretty(request.body));
    location.hash = `#/integrations/edit/${encodeURIComponent(this.select.value)}`;
  }
}
