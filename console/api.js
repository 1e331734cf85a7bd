// The admin API client. URLs are built relative to the page (/console/ or /Prod/console/ on AWS), so the
// same files work with and without a stage prefix. On AWS every request is SigV4-signed (aws4fetch) with
// the signed-in operator's temporary credentials; on the local stack requests go out plain.

export class ApiError extends Error {
  constructor(status, data, method, path) {
    const reason = (data && (data.reason || data.message)) || `HTTP ${status}`;
    super(`${method} ${path}: ${reason}`);
    this.status = status;
    this.data = data;
    this.reason = reason;
  }
}

export const API_ROOT = new URL('../', document.baseURI);

export function webhookUrl(identifier) {
  return new URL(`webhooks/incoming/${encodeURIComponent(identifier)}`, API_ROOT).href;
}

export class Api {
  /** signer: null (plain fetch) or an object with fetch(url, init) that signs (see auth.js). */
  constructor(signer = null) {
    this.signer = signer;
  }

  async request(method, path, body) {
    const url = new URL(path.replace(/^\//, ''), API_ROOT).href;
    const init = {method, headers: {}};
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const response = await (this.signer ? this.signer.fetch(url, init) : fetch(url, init));
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = {reason: text.slice(0, 300)}; }
    if (!response.ok) throw new ApiError(response.status, data, method, path);
    return data;
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body ?? {}); }
  put(path, body) { return this.request('PUT', path, body); }
  delete(path) { return this.request('DELETE', path); }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
