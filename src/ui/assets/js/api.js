// The public /v1 API with the operator's token. The token lives in localStorage and goes out
// as X-Nomad-Token, the header Nomad's own UI sends.

const KEY = 'raftwarden.token';

export function token() {
  return localStorage.getItem(KEY) || '';
}

export function setToken(secret) {
  if (secret) localStorage.setItem(KEY, secret);
  else localStorage.removeItem(KEY);
}

/** A non-2xx answer: its status and body (Nomad's error texts are plain text). */
export class ApiError extends Error {
  constructor(status, body, path) {
    super(`${status}: ${body || '(empty body)'}`);
    this.status = status;
    this.body = body;
    this.path = path;
    try {
      this.json = body ? JSON.parse(body) : null;
    } catch {
      this.json = null;
    }
  }
}

function headers() {
  const t = token();
  return t ? { 'X-Nomad-Token': t } : {};
}

/** One call; resolves to {data, index} or rejects with ApiError (or a network TypeError).
 * `accept` lists non-2xx statuses whose body is still the answer. */
export async function call(method, path, body, signal, accept = []) {
  const init = { method, headers: headers(), signal, cache: 'no-store' };
  if (body !== undefined) init.body = typeof body === 'string' || body instanceof Blob ? body : JSON.stringify(body);
  const r = await fetch(path, init);
  const text = await r.text();
  if (!r.ok && !accept.includes(r.status)) throw new ApiError(r.status, text, path);
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  return { data, index: Number(r.headers.get('X-Nomad-Index') || 0) };
}

/** Autopilot health: 429 is Nomad's answer for an unhealthy cluster, with the same body. */
export const health = () => call('GET', '/v1/operator/autopilot/health', undefined, undefined, [429]).then((r) => r.data);

export const get = (path, signal) => call('GET', path, undefined, signal).then((r) => r.data);
export const put = (path, body) => call('PUT', path, body).then((r) => r.data);
export const post = (path, body) => call('POST', path, body).then((r) => r.data);
export const del = (path) => call('DELETE', path).then((r) => r.data);

/** A raw fetch with the token, for streaming bodies (snapshots). */
export async function raw(method, path, body) {
  const r = await fetch(path, { method, headers: headers(), body, cache: 'no-store' });
  if (!r.ok) throw new ApiError(r.status, await r.text(), path);
  return r;
}

export const enc = encodeURIComponent;

/** A variable path in a URL: each segment encoded, the slashes kept. */
export function varPath(path) {
  return path.split('/').map(enc).join('/');
}
