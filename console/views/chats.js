// Chats: the live list (filters, unread counts, tab title) and the open chat (messages, reply with an attached
// file, delivery state with its reason, Retry, close). Both poll the admin API with cursors; see poller.js.

import {query} from '../api.js';
import {announce, clear, dateTimeOf, dayKey, dayLabel, h, timeOf} from '../dom.js';
import {poll} from '../poller.js';
import {sizeText, uploadFile} from '../uploads.js';

export const LIST_INTERVAL_MS = 5000;
export const CHAT_INTERVAL_MS = 2500;
const SEEN = 'chatbridge.console.seen';
const OPERATOR = 'chatbridge.console.operator';
const TITLE = 'chatbridge console';

// What the operator has seen of each chat: {chat id: {id: last message id, visitors: the chat's
// visitor_messages then}}. Unread = visitor messages since, so the operator's own replies (from this or
// another browser) and messages sent from the provider side never count.
function seenChats() {
  try { return JSON.parse(localStorage.getItem(SEEN) || '{}'); } catch { return {}; }
}

function markSeen(chatId, messageId, visitors) {
  const seen = seenChats();
  const before = typeof seen[chatId] === 'object' && seen[chatId] ? seen[chatId] : {id: 0, visitors: 0};
  if (before.id >= messageId && before.visitors >= visitors) return;
  seen[chatId] = {id: Math.max(before.id, messageId), visitors: Math.max(before.visitors || 0, visitors)};
  localStorage.setItem(SEEN, JSON.stringify(seen));
}

/** Visitor messages the operator has not seen; a count kept by an older console (a bare id) is read as far
 *  as it goes: nothing new since that id means nothing unread. */
export function unreadOf(chat, seen) {
  const visitors = chat.visitor_messages || 0;
  if (typeof seen === 'number') {
    return chat.last_message_id > seen ? Math.min(visitors, chat.last_message_id - seen) : 0;
  }
  return Math.max(0, visitors - (seen?.visitors || 0));
}

export function operatorId() {
  const value = Number(localStorage.getItem(OPERATOR));
  return Number.isInteger(value) && value > 0 ? value : 1;
}

// user_id: 0 the visitor, > 0 an operator here, -2 an operator on the provider's side (the business phone),
// -1 (and any other negative) chatbridge itself.
const FROM_PROVIDER_SIDE = -2;

function sender(message) {
  if (message.user_id === 0) return 'visitor';
  if (message.user_id > 0 || message.user_id === FROM_PROVIDER_SIDE) return 'operator';
  return 'system';
}

const DELIVERY = {
  sending: {icon: '🕓', label: 'Sending'}, queued: {icon: '🕓', label: 'Queued'}, sent: {icon: '✓', label: 'Sent'},
  delivered: {icon: '✓✓', label: 'Delivered'}, read: {icon: '✓✓', label: 'Read'}, failed: {icon: '!', label: 'Failed to send'},
};
const SETTLED = new Set(['read', 'failed']);
const RECEIPT_WATCH_S = 15 * 60;  // a sent reply is watched this long for its delivered / read receipts

/** Reactions grouped by emoji, in first-seen order, with who reacted. */
export function groupedReactions(reactions) {
  const groups = new Map();
  for (const reaction of Array.isArray(reactions) ? reactions : []) {
    const key = String(reaction?.reaction ?? '');
    if (!key) continue;
    const group = groups.get(key) || {reaction: key, authors: []};
    const author = reaction.author && typeof reaction.author === 'object' ? reaction.author.name : reaction.author;
    group.authors.push(author ? String(author) : '');  // an unnamed reaction still counts
    groups.set(key, group);
  }
  return [...groups.values()];
}

const MARKUP = /\[img\](https?:\/\/[^\s[\]]+)\[\/img\]|\[file=(https?:\/\/[^\s\]]+)\]|\[url=(https?:\/\/[^\s\]]+)\]([^[]*)\[\/url\]|(https?:\/\/[^\s<>"']+)/g;

/** Message text with its media markup and URLs as links (http and https only); the rest stays text. An
 *  operator's file (`message.file`) is its link named by the file's name, with its size; one still being
 *  uploaded (`pending`) is its name. */
export function messageBody(message) {
  const text = String(message.msg ?? '');
  const own = message.file && typeof message.file === 'object' ? message.file : null;
  const parts = [];
  let last = 0;
  let ownShown = false;
  for (const match of text.matchAll(MARKUP)) {
    parts.push(text.slice(last, match.index));
    const [, image, file, url, label, bare] = match;
    const href = image || file || url || bare;
    if (file && own && own.url === file) {
      parts.push(ownFile(own));
      ownShown = true;
    } else {
      const caption = image ? 'Image' : file ? `File: ${decodeURIComponent(href.split('/').pop().split('?')[0])}` : (label || href);
      parts.push(h('a', {href, target: '_blank', rel: 'noopener noreferrer', class: image ? 'media image' : file ? 'media file' : ''}, caption));
    }
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  if (own && !ownShown) parts.push(text.trim() ? '\n' : '', ownFile(own));
  if (message.kind === 'image' && !parts.some(p => p instanceof Node)) parts.unshift(h('span', {class: 'kind'}, '[image] '));
  if (message.kind === 'attachment' && !parts.some(p => p instanceof Node)) parts.unshift(h('span', {class: 'kind'}, '[file] '));
  return parts;
}

function ownFile(file) {
  const what = file.kind === 'image' ? 'Image' : 'File';
  const size = file.size ? h('span', {class: 'size'}, ` (${sizeText(file.size)})`) : null;
  if (file.pending || !file.url) {
    return h('span', {class: 'media file pending'}, `${what}: ${file.name}`, size, ', uploading…');
  }
  return h('span', {class: 'own-file'},
    h('a', {href: file.url, target: '_blank', rel: 'noopener noreferrer', class: `media ${file.kind === 'image' ? 'image' : 'file'}`},
      `${what}: ${file.name}`), size);
}

export class ChatsView {
  constructor(api, root, args) {
    this.api = api;
    this.root = root;
    this.chats = new Map();
    this.cursor = 0;
    this.filters = {status: sessionStorage.getItem('chatbridge.console.status') || '',
                    incoming: sessionStorage.getItem('chatbridge.console.incoming') || ''};
    this.openId = null;
    this.chat = null;
    this.messages = new Map();
    this.deliveries = new Map();
    this.localSeq = 0;
    this.render();
    this.listFeed = poll(() => this.refreshList(), LIST_INTERVAL_MS, {onError: e => this.feedError(e)});
    this.loadIntegrations();
    this.update(args);
  }

  destroy() {
    this.listFeed.stop();
    if (this.chatFeed) this.chatFeed.stop();
    document.title = TITLE;
  }

  feedError(error) {
    announce(`Could not refresh: ${error.message}`, 'error');
  }

  render() {
    const statusSelect = h('select', {id: 'filter-status', onchange: e => this.setFilter('status', e.target.value)},
      h('option', {value: ''}, 'All'), h('option', {value: 'pending'}, 'Pending'),
      h('option', {value: 'active'}, 'Active'), h('option', {value: 'closed'}, 'Closed'));
    statusSelect.value = this.filters.status;
    this.integrationSelect = h('select', {id: 'filter-incoming', onchange: e => this.setFilter('incoming', e.target.value)},
      h('option', {value: ''}, 'All integrations'));
    this.list = h('ul', {class: 'chat-list', id: 'chat-list', 'aria-label': 'Chats'});
    this.pane = h('section', {class: 'chat-pane', id: 'chat-pane', 'aria-label': 'Open chat'},
      h('p', {class: 'muted empty'}, 'Choose a chat.'));
    clear(this.root,
      h('div', {class: 'chats'},
        h('section', {class: 'chat-column', 'aria-labelledby': 'chats-title'},
          h('h1', {id: 'chats-title', class: 'visually-hidden'}, 'Chats'),
          h('div', {class: 'filters'},
            h('label', {for: 'filter-status'}, 'Status'), statusSelect,
            h('label', {for: 'filter-incoming'}, 'Integration'), this.integrationSelect),
          this.list),
        this.pane));
  }

  async loadIntegrations() {
    try {
      const {incoming_webhooks: specs} = await this.api.get('admin/incoming-webhooks');
      for (const spec of specs) {
        this.integrationSelect.append(h('option', {value: spec.identifier},
          spec.scope ? `${spec.name} (${spec.scope})` : spec.name));
      }
      this.integrationSelect.value = this.filters.incoming;
    } catch (error) {
      this.feedError(error);
    }
  }

  setFilter(name, value) {
    this.filters[name] = value;
    sessionStorage.setItem(`chatbridge.console.${name}`, value);
    if (name === 'incoming') {  // the server filters by integration: start the cursor again
      this.chats.clear();
      this.cursor = 0;
      this.listFeed.now();
    }
    this.renderList();
  }

  /** One list poll: chats changed since the cursor (all of them the first time), merged by id. */
  async refreshList() {
    const since = this.cursor ? this.cursor - 1 : '';  // seconds: a same-second change must not slip by
    const {chats} = await this.api.get(`admin/chats${query({incoming: this.filters.incoming, updated_after: since})}`);
    for (const chat of chats) {
      this.chats.set(chat.id, chat);
      this.cursor = Math.max(this.cursor, chat.updated_at || 0);
    }
    if (this.openId !== null && this.chats.has(this.openId)) {
      const fresh = this.chats.get(this.openId);
      if (this.chat && fresh.updated_at > (this.chat.updated_at || 0)) this.chatFeed?.now();
    }
    this.renderList();
  }

  unread(chat) {
    if (chat.id === this.openId) return 0;
    return unreadOf(chat, seenChats()[chat.id]);
  }

  visibleChats() {
    return [...this.chats.values()]
      .filter(chat => !this.filters.status || chat.status === this.filters.status)
      .sort((a, b) => (b.updated_at - a.updated_at) || (b.id - a.id));
  }

  renderList() {
    const visible = this.visibleChats();
    let total = 0;
    const rows = visible.map(chat => {
      const unread = this.unread(chat);
      total += unread;
      const incoming = chat.incoming_chat?.incoming || {};
      const integration = `${incoming.name || ''}${chat.incoming_deleted ? ' (deleted)' : ''}`;
      return h('li', {class: 'chat-row', dataset: {chatId: chat.id, incomingDeleted: chat.incoming_deleted ? 'true' : null}},
        h('a', {href: `#/chats/${chat.id}`, 'aria-current': chat.id === this.openId ? 'true' : null,
                'aria-label': `${chat.nick}, ${chat.status}, ${integration}${unread ? `, ${unread} unread` : ''}`},
          h('span', {class: 'nick'}, chat.nick || 'Visitor'),
          unread ? h('span', {class: 'unread', 'aria-hidden': 'true'}, String(unread)) : null,
          h('span', {class: `badge status-${chat.status}`}, chat.status),
          h('span', {class: `integration${chat.incoming_deleted ? ' deleted' : ''}`}, incoming.name || '',
            chat.incoming_deleted ? h('span', {class: 'gone'}, ' (deleted)') : null,
            incoming.scope ? ` · ${incoming.scope}` : ''),
          h('time', {datetime: new Date(chat.updated_at * 1000).toISOString()}, timeOf(chat.updated_at))));
    });
    clear(this.list, rows.length ? rows : h('li', {class: 'muted empty'}, 'No chats yet.'));
    document.title = total ? `(${total}) ${TITLE}` : TITLE;
  }

  update(args) {
    const id = args && args[0] ? Number(args[0]) : null;
    if (id === this.openId) return;
    if (this.chatFeed) this.chatFeed.stop();
    this.chatFeed = null;
    this.openId = Number.isInteger(id) ? id : null;
    this.chat = null;
    this.messages = new Map();
    this.deliveries = new Map();
    this.renderList();
    if (this.openId === null) {
      clear(this.pane, h('p', {class: 'muted empty'}, 'Choose a chat.'));
      return;
    }
    this.renderPane();
    this.chatFeed = poll(() => this.refreshChat(), CHAT_INTERVAL_MS, {onError: e => this.feedError(e)});
  }

  renderPane() {
    this.title = h('h2', {id: 'chat-title'}, `Chat ${this.openId}`);
    this.details = h('dl', {class: 'details'});
    this.closeButton = h('button', {type: 'button', id: 'close-chat', 'aria-keyshortcuts': 'Alt+E',
                                    onclick: () => this.closeChat()}, 'Close chat');
    this.log = h('ol', {class: 'messages', id: 'messages', role: 'log', 'aria-labelledby': 'chat-title',
                        'aria-live': 'polite'});
    this.reply = h('textarea', {id: 'reply', rows: 3, 'aria-keyshortcuts': 'Alt+R',
                                placeholder: 'Type a reply: Enter sends, Shift+Enter adds a line',
                                onkeydown: e => this.replyKey(e)});
    this.fileInput = h('input', {type: 'file', id: 'reply-file', class: 'visually-hidden',
                                 onchange: () => this.fileChosen()});
    this.attachment = h('span', {class: 'attachment', id: 'reply-attachment'});
    this.replyError = h('p', {class: 'reply-error', id: 'reply-error', role: 'alert'});
    clear(this.pane,
      h('header', {class: 'chat-header'}, this.title, h('span', {id: 'chat-status', class: 'badge'}), this.closeButton),
      h('details', {class: 'provider'}, h('summary', {}, 'Provider details'), this.details),
      this.log,
      h('form', {class: 'reply', onsubmit: e => { e.preventDefault(); this.send(); }},
        h('label', {for: 'reply'}, 'Reply'), this.reply,
        h('div', {class: 'reply-actions'},
          h('label', {class: 'attach', title: 'Attach a file (an image is sent as a picture)'},
            'Attach file…', this.fileInput),
          h('button', {type: 'submit'}, 'Send')),
        this.attachment, this.replyError));
  }

  /** The chosen file shown under the reply box, with a button that takes it off again. */
  fileChosen() {
    const file = this.fileInput.files[0];
    this.replyError.textContent = '';
    if (!file) {
      clear(this.attachment);
      return;
    }
    clear(this.attachment,
      h('span', {class: 'chosen'}, `Attached: ${file.name}`, h('span', {class: 'size'}, ` (${sizeText(file.size)})`)),
      h('button', {type: 'button', class: 'link', 'aria-label': `Remove ${file.name}`,
                   onclick: () => this.dropFile()}, 'Remove'));
  }

  dropFile() {
    this.fileInput.value = '';
    clear(this.attachment);
  }

  renderHeader() {
    const chat = this.chat;
    const incoming = chat.incoming_chat?.incoming || {};
    this.title.textContent = chat.nick || 'Visitor';
    const status = this.pane.querySelector('#chat-status');
    status.textContent = chat.status;
    status.className = `badge status-${chat.status}`;
    this.closeButton.disabled = chat.status === 'closed';
    const rows = [
      ['Integration', `${incoming.name || ''} (${incoming.identifier || ''})${chat.incoming_deleted ? ', deleted' : ''}`],
      ['Scope', incoming.scope || '-'],
      ['Provider chat id', chat.incoming_chat?.chat_external_id], ['Phone', chat.phone], ['Email', chat.email],
      ['Chat id', chat.id], ['Started', dateTimeOf(chat.created_at)], ['Operator', chat.user_id || 'none'],
      ...Object.entries(chat.incoming_chat?.attributes || {}).map(([k, v]) => [`Attribute ${k}`, v]),
    ].filter(([, value]) => value !== undefined && value !== null && value !== '');
    clear(this.details, rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, String(value))]));
  }

  lastId() {
    let last = 0;
    for (const id of this.messages.keys()) if (typeof id === 'number') last = Math.max(last, id);
    return last;
  }

  /** Replies whose state may still change: queued ones (the hour after they were written), and sent or
   *  delivered ones for a while, for the provider's delivered / read receipts. */
  inFlight() {
    const now = Date.now() / 1000;
    return [...this.messages.values()].filter(m => typeof m.id === 'number' && m.user_id > 0 && !SETTLED.has(m.delivery) &&
      ((m.delivery === 'queued' || !m.delivery) ? m.time > now - 3600
        : (m.updated_at || m.time) > now - RECEIPT_WATCH_S));
  }

  /** One chat poll: the chat, new messages (after=last id) and, while a reply is in flight, changed ones. */
  async refreshChat() {
    const id = this.openId;
    const chat = await this.api.get(`admin/chats/${id}`);
    if (id !== this.openId) return;
    const movedSince = this.chat && chat.updated_at > (this.chat.updated_at || 0) ? this.chat.updated_at : null;
    this.chat = chat;
    if (this.chats.has(id)) this.chats.set(id, chat);  // the list shows what the open chat shows, at once
    this.renderHeader();
    const fresh = (await this.api.get(`admin/chats/${id}/messages${query({after: this.lastId()})}`)).messages;
    let changed = [];
    const waiting = this.inFlight();
    if (waiting.length) {
      const cursor = Math.max(0, ...[...this.messages.values()].map(m => m.updated_at || 0));
      const known = [...this.messages.values()].some(m => m.updated_at);
      // Servers whose messages carry updated_at take changed_after; else re-read from the oldest in flight.
      const path = known ? query({changed_after: cursor ? cursor - 1 : 0})
                         : query({after: Math.min(...waiting.map(m => m.id)) - 1});
      changed = (await this.api.get(`admin/chats/${id}/messages${path}`)).messages;
    } else if (movedSince !== null && this.messages.size) {
      // the chat moved with no reply in flight: a message may have been edited, reacted to or receipted
      changed = (await this.api.get(`admin/chats/${id}/messages${query({changed_after: movedSince - 1})}`)).messages;
    }
    if (id !== this.openId) return;
    const failedBefore = new Set([...this.messages.values()].filter(m => m.delivery === 'failed').map(m => m.id));
    for (const message of [...fresh, ...changed]) {
      const before = this.messages.get(message.id);
      if (before && before.delivery !== message.delivery && message.user_id > 0 && DELIVERY[message.delivery] &&
          message.delivery !== 'queued') {
        announce(`Reply ${message.id} ${message.delivery === 'failed' ? 'failed to send' : message.delivery}`,
                 message.delivery === 'failed' ? 'error' : 'info');
      }
      this.messages.set(message.id, message);
    }
    const newlyFailed = [...this.messages.values()].some(m => m.delivery === 'failed' && !failedBefore.has(m.id));
    if (newlyFailed || (failedBefore.size && !this.deliveries.size)) await this.loadDeliveries();
    if (fresh.length || changed.length || !this.log.children.length) this.renderMessages();
    markSeen(id, this.lastId(), chat.visitor_messages || 0);
    this.renderList();
  }

  async loadDeliveries() {
    const {deliveries} = await this.api.get(`admin/deliveries${query({chat_id: this.openId})}`);
    this.deliveries = new Map();
    for (const delivery of deliveries) {
      if (delivery.message_id === null || delivery.message_id === undefined) continue;
      const list = this.deliveries.get(delivery.message_id) || [];
      list.push(delivery);
      this.deliveries.set(delivery.message_id, list);
    }
  }

  renderMessages() {
    const stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    const ordered = [...this.messages.values()].sort((a, b) => (a.time - b.time) || (a.seq ?? a.id) - (b.seq ?? b.id));
    const items = [];
    let day = null;
    for (const message of ordered) {
      const key = dayKey(message.time);
      if (key !== day) {
        day = key;
        items.push(h('li', {class: 'day', role: 'separator'}, h('span', {}, dayLabel(message.time))));
      }
      items.push(this.messageItem(message));
    }
    clear(this.log, items.length ? items : h('li', {class: 'muted empty'}, 'No messages.'));
    if (stick) this.log.scrollTop = this.log.scrollHeight;
  }

  /** Who a message is from, as the operator reads it. */
  whoOf(message) {
    const who = sender(message);
    if (who === 'visitor') return this.chat?.nick || 'Visitor';
    if (message.user_id === FROM_PROVIDER_SIDE) return `${message.name_support || 'Operator'} (from the provider side)`;
    if (who === 'operator') return message.name_support || 'operator';
    return 'system';
  }

  messageItem(message) {
    const who = sender(message);
    const author = message.author && typeof message.author === 'object' && message.author.name ? message.author : null;
    const edited = Number(message.edited_at) > 0 ? Number(message.edited_at) : null;
    const item = h('li', {class: `message ${who}${message.user_id === FROM_PROVIDER_SIDE ? ' provider-side' : ''}`,
                          dataset: {messageId: message.id, delivery: message.delivery || ''}},
      h('div', {class: 'meta'}, h('span', {class: 'who'}, this.whoOf(message)),
        ' ', h('time', {datetime: new Date(message.time * 1000).toISOString()}, timeOf(message.time)),
        edited ? [' · ', h('span', {class: 'edited', title: `Edited ${dateTimeOf(edited)}`,
                                    'aria-label': `edited ${dateTimeOf(edited)}`}, 'edited')] : null),
      author ? h('div', {class: 'author', dataset: {authorId: author.id ?? ''}}, String(author.name)) : null,
      h('div', {class: 'body'}, messageBody(message)));
    const reactions = groupedReactions(message.reactions);
    if (reactions.length) {
      item.append(h('ul', {class: 'reactions', 'aria-label': 'Reactions'}, reactions.map(group => {
        const names = group.authors.filter(Boolean).join(', ');
        return h('li', {title: names, 'aria-label': `${group.reaction} ${group.authors.length}${names ? `: ${names}` : ''}`},
          h('span', {'aria-hidden': 'true'}, group.reaction, group.authors.length > 1 ? ` ${group.authors.length}` : ''));
      })));
    }
    if (who === 'operator' && (message.user_id > 0 || message.delivery)) item.append(this.deliveryState(message));
    return item;
  }

  deliveryState(message) {
    const state = message.delivery || (typeof message.id === 'number' ? 'queued' : 'sending');
    const shown = DELIVERY[state] || {icon: '', label: state};
    const box = h('div', {class: `delivery delivery-${state}`},
      h('span', {class: 'icon', 'aria-hidden': 'true'}, shown.icon),
      h('span', {class: 'label'}, shown.label));
    if (state === 'failed' && typeof message.id === 'number') {
      const failed = (this.deliveries.get(message.id) || []).filter(d => d.status === 'failed');
      for (const delivery of failed) {
        const code = delivery.status_code ? `HTTP ${delivery.status_code}` : 'no answer';
        const error = delivery.error && !delivery.error.startsWith(code) ? delivery.error : null;
        const why = [code, error, delivery.error && !error ? delivery.error.slice(code.length).trim() : null,
                     delivery.response_excerpt].filter(Boolean).join(': ');
        box.append(h('span', {class: 'reason'}, why.slice(0, 300)));
      }
      box.append(h('button', {type: 'button', class: 'retry', onclick: e => this.retry(message, e.target)}, 'Retry'));
    }
    if (message.error) box.append(h('span', {class: 'reason'}, message.error));
    return box;
  }

  replyKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send();
    }
  }

  /** Shown at once (Sending), then the stored message replaces it and its delivery state follows. With a file
   *  the file is stored first (uploads.js); a file the API refuses (too large, a type operators may not
   *  send) sends nothing: the reason shows under the reply box, the text goes back into it. */
  async send() {
    const text = this.reply.value;
    const file = this.fileInput.files[0] || null;
    if ((!text.trim() && !file) || this.openId === null) return;
    const chatId = this.openId;
    const localId = `local-${++this.localSeq}`;
    this.messages.set(localId, {id: localId, seq: Number.MAX_SAFE_INTEGER, user_id: operatorId(), msg: text,
                                time: Math.floor(Date.now() / 1000), delivery: null,
                                file: file ? {name: file.name, size: file.size, pending: true,
                                              kind: file.type.startsWith('image/') ? 'image' : 'attachment'} : null});
    this.reply.value = '';
    this.replyError.textContent = '';
    this.dropFile();
    this.renderMessages();
    this.log.scrollTop = this.log.scrollHeight;
    let stored = null;
    if (file) {
      try {
        stored = await uploadFile(this.api, chatId, file);
      } catch (error) {
        this.messages.delete(localId);
        this.renderMessages();
        if (chatId !== this.openId) return;
        if (!this.reply.value) this.reply.value = text;
        // the reason's first clause says what is wrong; what follows (the types allowed...) is detail
        const reason = String(error.reason || error.message);
        const cut = reason.indexOf('; ');
        const [what, detail] = cut > 0 ? [reason.slice(0, cut), reason.slice(cut + 2)] : [reason, ''];
        clear(this.replyError, `${file.name} was not sent: ${what}`,
              detail ? h('span', {class: 'detail'}, detail) : null);
        announce(`${file.name} was not sent: ${what}`, 'error');
        return;
      }
    }
    try {
      const {message} = await this.api.post(`admin/chats/${chatId}/messages`,
                                            {msg: text, user_id: operatorId(), ...(stored ? {file: stored.id} : {})});
      if (chatId !== this.openId) return;
      this.messages.delete(localId);
      this.messages.set(message.id, {...this.messages.get(message.id), ...message});
      announce('Reply stored; sending');
    } catch (error) {
      const local = this.messages.get(localId);
      if (local) Object.assign(local, {delivery: 'failed', error: `not stored: ${error.reason}`});
      announce(`Reply not stored: ${error.reason}`, 'error');
    }
    this.renderMessages();
    this.chatFeed?.now();
  }

  async retry(message, button) {
    button.disabled = true;
    try {
      const answer = await this.api.post(`admin/chats/${this.openId}/messages/${message.id}/retry`);
      if (answer && answer.message) this.messages.set(message.id, answer.message);
      else message.delivery = 'queued';
      announce(`Retrying reply ${message.id}`);
    } catch (error) {
      announce(`Retry failed: ${error.reason}`, 'error');
      button.disabled = false;
      return;
    }
    this.renderMessages();
    this.chatFeed?.now();
  }

  async closeChat() {
    if (this.openId === null) return;
    try {
      this.chat = {incoming_deleted: this.chat?.incoming_deleted, ...await this.api.post(`admin/chats/${this.openId}/close`)};
      this.chats.set(this.chat.id, this.chat);
      this.renderHeader();
      this.renderList();
      announce(`Chat ${this.chat.id} closed`);
    } catch (error) {
      announce(`Could not close: ${error.reason}`, 'error');
    }
  }

  shortcut(key) {
    const visible = this.visibleChats();
    const index = visible.findIndex(chat => chat.id === this.openId);
    if (key === 'j' || key === 'k') {
      const next = visible[key === 'j' ? index + 1 : (index < 0 ? visible.length - 1 : index - 1)];
      if (next) location.hash = `#/chats/${next.id}`;
      return true;
    }
    if (key === 'r' && this.reply && this.openId !== null) {
      this.reply.focus();
      return true;
    }
    if (key === 'e' && this.openId !== null) {
      this.closeChat();
      return true;
    }
    return false;
  }
}
