// Small DOM helpers: every text goes in as a text node, so nothing a third party sends becomes markup.

/** h('button', {class: 'x', onclick: fn}, 'label', child) */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name in node && typeof value !== 'string') node[name] = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const STATUS = () => document.getElementById('status');

/** Announce a status change in the page's one role="status" region. */
export function announce(text, kind = 'info') {
  const region = STATUS();
  if (!region) return;
  region.dataset.kind = kind;
  region.textContent = text;
}

export function timeOf(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
}

export function dateTimeOf(epochSeconds) {
  if (!epochSeconds) return '';
  return new Date(epochSeconds * 1000).toLocaleString([], {dateStyle: 'short', timeStyle: 'medium'});
}

/** "Today", "Yesterday", the weekday within a week, else the locale date (day separators). */
export function dayLabel(epochSeconds, now = new Date()) {
  const day = new Date(epochSeconds * 1000);
  const start = d => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((start(now) - start(day)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return day.toLocaleDateString([], {weekday: 'long'});
  return day.toLocaleDateString([], {dateStyle: 'medium'});
}

export function dayKey(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** Run fn at most once per `ms` of quiet (the spec editor's live preview). */
export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h('textarea', {class: 'offscreen'}, text);
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}
