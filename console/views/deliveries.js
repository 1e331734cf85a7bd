// Deliveries: every reply job's record (request with secrets masked, status code, response excerpt,
// attempts, error), filtered by chat or state, one opened in full, and the dead-letter redrive.

import {query} from '../api.js';
import {announce, clear, dateTimeOf, h, pretty} from '../dom.js';
import {poll} from '../poller.js';

const INTERVAL_MS = 5000;  // queued replies turn sent or failed while the operator watches

export class DeliveriesView {
  constructor(api, root) {
    this.api = api;
    this.root = root;
    this.items = [];
    this.chatInput = h('input', {id: 'deliveries-chat', type: 'text', inputmode: 'numeric', size: 6,
                                 onchange: () => this.feed.now()});
    this.stateSelect = h('select', {id: 'deliveries-state', onchange: () => this.render()},
      h('option', {value: ''}, 'All'), h('option', {value: 'queued'}, 'Queued'),
      h('option', {value: 'sent'}, 'Sent'), h('option', {value: 'failed'}, 'Failed'));
    this.table = h('tbody');
    this.detail = h('section', {class: 'detail', 'aria-label': 'Delivery'});
    clear(root, h('div', {class: 'page'},
      h('h1', {}, 'Deliveries'),
      h('div', {class: 'filters'},
        h('label', {for: 'deliveries-chat'}, 'Chat id'), this.chatInput,
        h('label', {for: 'deliveries-state'}, 'State'), this.stateSelect,
        h('button', {type: 'button', onclick: () => this.feed.now()}, 'Refresh'),
        h('button', {type: 'button', id: 'redrive', onclick: () => this.redrive()}, 'Redrive dead-lettered jobs')),
      h('table', {class: 'grid'}, h('thead', {}, h('tr', {},
        ['When', 'Chat', 'Message', 'Webhook', 'State', 'HTTP', 'Attempts', ''].map(t => h('th', {scope: 'col'}, t)))),
        this.table),
      this.detail));
    this.feed = poll(() => this.load(), INTERVAL_MS);
  }

  destroy() {
    this.feed.stop();
  }

  async load() {
    const chat = this.chatInput.value.trim();
    try {
      this.items = (await this.api.get(`admin/deliveries${query({chat_id: chat})}`)).deliveries;
    } catch (error) {
      announce(`Could not load deliveries: ${error.reason}`, 'error');
      return;
    }
    this.render();
  }

  render() {
    const state = this.stateSelect.value;
    const rows = this.items.filter(d => !state || d.status === state).map(d => h('tr', {dataset: {state: d.status}},
      h('td', {}, dateTimeOf(d.updated_at)), h('td', {}, h('a', {href: `#/chats/${d.chat_id}`}, String(d.chat_id))),
      h('td', {}, String(d.message_id ?? '')), h('td', {}, d.webhook_id),
      h('td', {}, h('span', {class: `badge delivery-${d.status}`}, d.status)), h('td', {}, String(d.status_code ?? '')),
      h('td', {}, String(d.attempts)),
      h('td', {}, h('button', {type: 'button', onclick: () => this.open(d)}, 'Open'))));
    clear(this.table, rows.length ? rows : h('tr', {}, h('td', {colspan: 8, class: 'muted'}, 'No deliveries.')));
  }

  open(delivery) {
    clear(this.detail, h('h2', {}, `Delivery ${delivery.id}`),
      h('dl', {class: 'details'},
        [['State', delivery.status], ['HTTP status', delivery.status_code ?? 'no answer'], ['Error', delivery.error || '-'],
         ['Attempts', delivery.attempts], ['Duration', delivery.duration_ms != null ? `${delivery.duration_ms} ms` : '-'],
         ['REST API', delivery.rest_api_id], ['Event', delivery.event]]
          .map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
      h('h3', {}, 'Request (secrets masked)'), h('pre', {}, pretty(delivery.request)),
      h('h3', {}, 'Response excerpt'), h('pre', {}, delivery.response_excerpt || '(empty)'));
    this.detail.querySelector('h2').scrollIntoView({block: 'nearest'});
  }

  async redrive() {
    try {
      const {redriven} = await this.api.post('admin/deliveries/redrive');
      announce(`Redriven ${redriven} dead-lettered job(s)`);
      this.load();
    } catch (error) {
      announce(`Redrive failed: ${error.reason}`, 'error');
    }
  }
}
