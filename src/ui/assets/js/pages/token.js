// The ACL token: entered once, kept in this browser's localStorage, sent as X-Nomad-Token.

import { get, token, setToken } from '../api.js';
import { h, fill, field, table, when } from '../dom.js';

export async function render(main, ctx) {
  const input = h('input', { type: 'password', name: 'secret', autocomplete: 'off', value: token(), 'data-test': 'token-input', spellcheck: 'false' });
  const info = h('div', { 'data-test': 'token-info' });
  const save = h('button', { type: 'submit', 'data-test': 'token-save', text: 'Set token' });
  const clear = h('button', {
    type: 'button', class: 'secondary', text: 'Clear token',
    on: { click: () => { setToken(''); input.value = ''; ctx.status('Token cleared'); window.dispatchEvent(new Event('raftwarden:token')); } },
  });
  const form = h('form', {
    on: {
      submit: (ev) => {
        ev.preventDefault();
        setToken(input.value.trim());
        ctx.status('Token saved in this browser');
        window.dispatchEvent(new Event('raftwarden:token'));
      },
    },
  }, field('Secret ID', input, 'Kept in this browser (localStorage) and sent as X-Nomad-Token with every request.'), h('div', { class: 'row' }, save, clear));
  fill(main, h('h1', { text: 'ACL token' }), form, info);
  if (!token()) {
    fill(info, h('p', { class: 'muted', text: 'No token set: requests are anonymous.' }));
    return;
  }
  try {
    const self = await get('/v1/acl/token/self');
    fill(info, h('h2', { text: 'This token' }), table(null, ['Field', 'Value'], [
      ['Name', self.Name], ['Accessor ID', h('code', { text: self.AccessorID })], ['Type', self.Type],
      ['Policies', (self.Policies || []).join(', ') || '—'], ['Created', when(self.CreateTime)],
      ['Expires', when(self.ExpirationTime)],
      ['Can change', ctx.perms.management ? 'everything (management)' : [ctx.perms.operatorWrite ? 'operator configuration' : '', ctx.perms.variablesWrite ? 'variables' : ''].filter(Boolean).join(', ') || 'nothing (read-only)'],
    ].map((cells) => ({ cells }))));
  } catch (e) {
    if (e.status === 400 && /ACL support disabled/i.test(e.body || '')) {
      fill(info, h('p', { text: 'ACLs are off on this cluster: no token is needed.' }));
    } else {
      fill(info, ctx.errorPanel(e, 'GET /v1/acl/token/self'));
    }
  }
}
