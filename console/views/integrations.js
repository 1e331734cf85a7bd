// Integrations: the incoming webhooks with their URL (copy), a preset applied from a form (its
// parameters, required ones marked, the secrets it needs), Draft from payload, and the spec editor: the
// spec as JSON beside a sample payload with a live preview (chats, messages, skipped reasons) and the
// 422 field errors beside the spec.

import {API_ROOT, query, webhookUrl} from '../api.js';
import {announce, clear, copyText, debounce, h, pretty} from '../dom.js';
import {SAMPLE_KEY} from './requests.js';

const PREVIEW_DELAY_MS = 400;

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
    const url = webhookUrl(spec.identifier);
    return h('tr', {dataset: {identifier: spec.identifier}},
      h('td', {}, spec.name, spec.enabled === false ? ' (disabled)' : ''), h('td', {}, h('code', {}, spec.identifier)),
      h('td', {}, spec.scope || ''), h('td', {}, spec.preset || ''),
      h('td', {}, h('code', {class: 'url'}, url), ' ',
        h('button', {type: 'button', 'aria-label': `Copy the webhook URL of ${spec.name}`,
                     onclick: async () => announce(await copyText(url) ? `Copied ${url}` : 'Copy failed')}, 'Copy')),
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
      const url = webhookUrl(identifier);
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
    this.specArea = h('textarea', {id: 'spec-json', spellcheck: 'false', 'aria-describedby': 'spec-errors'});
    this.sampleArea = h('textarea', {id: 'sample-payload', spellcheck: 'false'});
    this.specErrors = h('div', {id: 'spec-errors', class: 'field-errors', 'aria-live': 'polite'});
    this.preview = h('section', {class: 'preview card', id: 'preview', 'aria-label': 'Preview', 'aria-live': 'polite'});
    this.requestSelect = h('select', {id: 'sample-request'}, h('option', {value: ''}, 'Load from the request log…'));
    const saveButton = h('button', {type: 'button', id: 'save-spec', onclick: () => this.save()}, 'Save');
    clear(this.root, h('div', {class: 'page'},
      h('h1', {}, identifier ? `Edit ${identifier}` : 'New incoming webhook'),
      h('p', {}, h('a', {href: '#/integrations'}, '← Integrations')),
      h('div', {class: 'editor'},
        h('div', {}, h('label', {for: 'spec-json'}, 'Spec (JSON)'), this.specArea, this.specErrors),
        h('div', {}, h('label', {for: 'sample-payload'}, 'Sample payload'), this.sampleArea,
          h('label', {for: 'sample-request', class: 'visually-hidden'}, 'Sample from the request log'), this.requestSelect)),
      h('p', {}, saveButton),
      this.preview));
    const schedule = debounce(() => this.refreshPreview(), PREVIEW_DELAY_MS);
    this.specArea.addEventListener('input', schedule);
    this.sampleArea.addEventListener('input', schedule);
    this.requestSelect.addEventListener('change', () => {
      const chosen = this.requests?.[Number(this.requestSelect.value)];
      if (chosen) {
        this.sampleArea.value = typeof chosen.body === 'string' ? chosen.body : pretty(chosen.body);
        this.refreshPreview();
      }
    });
    const draft = sessionStorage.getItem('chatbridge.console.draft');
    sessionStorage.removeItem('chatbridge.console.draft');
    const sample = sessionStorage.getItem(SAMPLE_KEY);
    sessionStorage.removeItem(SAMPLE_KEY);
    if (sample) this.sampleArea.value = sample;  // before any await: what the admin types must not be replaced
    if (identifier) {
      try {
        const spec = await this.api.get(`admin/incoming-webhooks/${encodeURIComponent(identifier)}`);
        for (const field of ['id', 'created_at', 'updated_at', 'webhook_path']) delete spec[field];
        if (!this.specArea.value) this.specArea.value = pretty(spec);
      } catch (error) {
        announce(`Could not load ${identifier}: ${error.reason}`, 'error');
      }
      this.loadRequests(identifier);
    } else {
      this.specArea.value = draft || pretty({identifier: 'my-provider', name: 'My provider', messages: '',
                                            chat_id: 'from', nick: 'name', text: [{conditions: '', body: '{{msg.text}}'}]});
    }
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

  specValue() {
    return JSON.parse(this.specArea.value);
  }

  async refreshPreview() {
    const turn = this.previewTurn = (this.previewTurn || 0) + 1;  // only the latest edit's answer is shown
    let spec;
    try {
      spec = this.specValue();
    } catch (error) {
      this.showErrors([{field: 'JSON', reason: error.message}]);
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
    const payload = sampleText ? true : null;
    try {
      const result = await this.api.post('admin/spec-previews', {spec, ...sample});
      if (turn !== this.previewTurn) return;
      this.showErrors([]);
      this.showPreview(result, payload !== null);
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

  showErrors(errors) {
    this.specArea.setAttribute('aria-invalid', errors.length ? 'true' : 'false');
    const lines = this.specArea.value.split('\n');
    clear(this.specErrors, errors.map(error => {
      const key = String(error.field).split('.')[0];
      const line = lines.findIndex(text => text.includes(`"${key}"`));
      return h('p', {class: 'field-error', dataset: {field: error.field}},
        h('strong', {}, error.field), line >= 0 ? ` (line ${line + 1})` : '', `: ${error.reason}`);
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
    try { spec = this.specValue(); } catch (error) {
      this.showErrors([{field: 'JSON', reason: error.message}]);
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
