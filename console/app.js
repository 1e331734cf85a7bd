// The console's entry point: settings, sign-in, the hash router, global shortcuts and the help dialog.

import {Api} from './api.js';
import {loadConfig, signIn} from './auth.js';
import {announce, clear, h} from './dom.js';
import {ChatsView} from './views/chats.js';
import {IntegrationsView} from './views/integrations.js';
import {RequestsView} from './views/requests.js';
import {DeliveriesView} from './views/deliveries.js';

const VIEWS = {chats: ChatsView, integrations: IntegrationsView, requests: RequestsView, deliveries: DeliveriesView};

let api;
let current = null;

function route() {
  const [name = 'chats', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const View = VIEWS[name] || ChatsView;
  const key = VIEWS[name] ? name : 'chats';
  for (const link of document.querySelectorAll('nav a[data-view]')) {
    if (link.dataset.view === key) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (current && current.name === key && current.view.update) {
    current.view.update(rest);
    return;
  }
  if (current) current.view.destroy();
  const main = clear(document.getElementById('main'));
  current = {name: key, view: new View(api, main, rest)};
}

function shortcuts(event) {
  const typing = event.target.closest('input, textarea, select, [contenteditable]');
  if (event.key === '?' && !typing && !event.altKey && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    document.getElementById('help').showModal();
    return;
  }
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  const key = event.key.toLowerCase();
  if (key === 'c') {
    event.preventDefault();
    location.hash = '#/chats';
    return;
  }
  if (current && current.view.shortcut && current.view.shortcut(key)) event.preventDefault();
}

async function main() {
  document.getElementById('help-button').addEventListener('click', () => document.getElementById('help').showModal());
  document.addEventListener('keydown', shortcuts);
  try {
    const config = await loadConfig();
    api = new Api(await signIn(config));
    document.getElementById('who').textContent = config.auth === 'none' ? 'local stack (no sign-in)' : 'signed in';
  } catch (error) {
    clear(document.getElementById('main'), h('p', {class: 'error'}, `Cannot start the console: ${error.message}`));
    announce(error.message, 'error');
    return;
  }
  window.addEventListener('hashchange', route);
  route();
}

main();
