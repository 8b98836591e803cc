// The shell: hash routes (#/servers, #/variable?ns=default&path=a/b), what the token may do,
// the status line (aria-live) and Nomad's "Not Authorized" panel.

import { ApiError, get, enc } from './api.js';
import { h, fill } from './dom.js';
import * as servers from './pages/servers.js';
import * as charts from './pages/charts.js';
import * as config from './pages/config.js';
import * as variables from './pages/variables.js';
import * as snapshots from './pages/snapshots.js';
import * as acl from './pages/acl.js';
import * as license from './pages/license.js';
import * as tokenPage from './pages/token.js';

const PAGES = {
  servers: servers.render,
  charts: charts.render,
  autopilot: config.renderAutopilot,
  scheduler: config.renderScheduler,
  variables: variables.renderList,
  variable: variables.renderOne,
  snapshots: snapshots.render,
  acl: acl.render,
  license: license.render,
  token: tokenPage.render,
};

/** What the current token may change, from /v1/acl/token/self and its policies. The server
 * decides anyway; this only disables controls that would be refused. */
export const perms = {
  aclEnabled: true,
  known: false,
  management: false,
  operatorWrite: false,
  variablesWrite: false,
  self: null,
};

export async function loadPerms() {
  Object.assign(perms, { aclEnabled: true, known: false, management: false, operatorWrite: false, variablesWrite: false, self: null });
  try {
    const self = await get('/v1/acl/token/self');
    perms.self = self;
    perms.known = true;
    if (self.Type === 'management') {
      Object.assign(perms, { management: true, operatorWrite: true, variablesWrite: true });
    } else if (self.AccessorID !== 'anonymous') {
      const rules = await Promise.all((self.Policies || []).map((p) => get(`/v1/acl/policy/${enc(p)}`).then((x) => x.Rules || '').catch(() => '')));
      for (const r of rules) {
        if (/operator\s*\{[^}]*policy\s*=\s*"write"/.test(r)) perms.operatorWrite = true;
        if (/namespace[^{]*\{[\s\S]*?(policy\s*=\s*"write"|capabilities\s*=\s*\[[^\]]*"write")/.test(r)) perms.variablesWrite = true;
      }
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 400 && /ACL support disabled/i.test(e.body)) {
      Object.assign(perms, { aclEnabled: false, known: true, management: true, operatorWrite: true, variablesWrite: true });
    }
  }
  const link = document.getElementById('token-link');
  if (link) link.textContent = perms.self ? `Token: ${perms.self.Name || perms.self.AccessorID.slice(0, 8)}` : 'Token';
}

const statusEl = () => document.getElementById('status');

/** Says something in the status line, which screen readers announce (aria-live). */
export function status(text, isError = false) {
  const el = statusEl();
  if (!el) return;
  el.textContent = text;
  el.classList.toggle('error', isError);
}

/** The panel for a failed call: Nomad's "Not Authorized" for a 403, else the status and body. */
export function errorPanel(err, what) {
  if (err instanceof ApiError && err.status === 403) {
    const t = localStorage.getItem('raftwarden.token');
    return h('div', { class: 'panel error', 'data-test': 'not-authorized', role: 'alert' },
      h('h2', { text: 'Not Authorized' }),
      t
        ? h('p', {}, 'You currently lack the required ', h('a', { href: '#/token', text: 'permission' }), ' for this resource. Contact your administrator if this is an error.')
        : h('p', {}, 'Provide a ', h('a', { href: '#/token', text: 'token' }), ' with the requisite permission to view this.'),
      h('p', { class: 'muted', text: `${what || err.path}: the server answered 403` }),
      h('pre', { 'data-test': 'error-body', text: err.body || '' }));
  }
  const detail = err instanceof ApiError ? `${err.status} ${err.body}` : String(err && err.message ? err.message : err);
  return h('div', { class: 'panel error', role: 'alert', 'data-test': 'error' },
    h('h2', { text: 'Error' }),
    h('p', { text: what ? `${what} failed:` : 'The request failed:' }),
    h('pre', { 'data-test': 'error-body', text: detail }));
}

/** Runs `fn` now and every `ms` until stopped; a run never overlaps the previous one. */
export function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    try {
      await fn();
    } catch (e) {
      console.warn('poll failed', e);
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

let cleanup = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [name, query] = raw.split('?');
  return { name: name || 'servers', params: new URLSearchParams(query || '') };
}

async function route(focus) {
  if (cleanup) cleanup();
  cleanup = null;
  const { name, params } = parseHash();
  const main = document.getElementById('main');
  const render = PAGES[name];
  const navName = name === 'variable' ? 'variables' : name;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === navName) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.getElementById('nav').classList.remove('open');
  document.getElementById('nav-toggle').setAttribute('aria-expanded', 'false');
  if (!render) {
    fill(main, h('h1', { text: 'Page not found' }), h('p', {}, 'No page is called ', h('code', { text: name }), '. ', h('a', { href: '#/servers', text: 'Servers' })));
    return;
  }
  fill(main, h('p', { class: 'muted', text: 'Loading…' }));
  document.title = `${navName[0].toUpperCase()}${navName.slice(1)} · raftwarden`;
  status('');
  try {
    cleanup = (await render(main, { perms, status, errorPanel, every, reload: () => route(false) }, params)) || null;
  } catch (e) {
    fill(main, errorPanel(e));
  }
  if (focus) main.focus();
}

async function start() {
  document.getElementById('nav-toggle').addEventListener('click', (ev) => {
    const nav = document.getElementById('nav');
    const open = nav.classList.toggle('open');
    ev.currentTarget.setAttribute('aria-expanded', String(open));
  });
  // The skip link moves focus without changing the hash route.
  document.getElementById('skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    document.getElementById('main').focus();
  });
  window.addEventListener('hashchange', () => route(true));
  window.addEventListener('raftwarden:token', async () => {
    await loadPerms();
    route(false);
  });
  await loadPerms();
  await route(false);
}

start();
