// ACL tokens and policies: list, view, create, delete. Changing them needs a management
// token; any other token sees the lists it may read with every control disabled.

import { get, post, del, enc } from '../api.js';
import { h, fill, field, table, when } from '../dom.js';

export async function render(main, ctx) {
  const canWrite = ctx.perms.management;
  const detail = h('div', { 'data-test': 'acl-detail' });
  const result = h('div', { 'data-test': 'result' });
  const tokens = h('div');
  const policies = h('div');

  const show = async (what, path) => {
    try {
      const x = await get(path);
      const rows = Object.entries(x).filter(([k]) => k !== 'Hash').map(([k, v]) => ({ cells: [k, k === 'Rules' ? h('pre', { text: v }) : typeof v === 'object' && v !== null ? JSON.stringify(v) : k.endsWith('Time') ? when(v) : String(v)] }));
      fill(detail, h('h2', { tabindex: '-1', text: `${what} ${x.Name || ''}` }), table(null, ['Field', 'Value'], rows));
      detail.querySelector('h2').focus();
    } catch (e) {
      fill(detail, ctx.errorPanel(e, `GET ${path}`));
    }
  };
  const remove = (label, path) => async () => {
    try {
      await del(path);
      ctx.status(`Deleted ${label}`);
      ctx.reload();
    } catch (e) {
      ctx.status(`Deleting ${label} failed`, true);
      fill(result, ctx.errorPanel(e, `DELETE ${path}`));
    }
  };
  const confirmDelete = (label, path) => () => fill(result, h('div', { class: 'panel warn', role: 'alert' },
    h('p', { text: `Delete ${label}?` }),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'danger', 'data-test': 'acl-delete-confirm', text: 'Delete', on: { click: remove(label, path) } }),
      h('button', { type: 'button', class: 'secondary', text: 'Cancel', on: { click: () => fill(result) } }))));

  try {
    const list = await get('/v1/acl/tokens');
    fill(tokens, table(`${list.length} token(s)`, ['Name', 'Accessor ID', 'Type', 'Policies', 'Created', ''], list.map((t) => ({
      t,
      cells: [t.Name || '—',
        h('button', { type: 'button', class: 'secondary', 'aria-label': `View token ${t.Name || t.AccessorID}`, text: t.AccessorID, on: { click: () => show('Token', `/v1/acl/token/${enc(t.AccessorID)}`) } }),
        t.Type, (t.Policies || []).join(', ') || '—', when(t.CreateTime),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Delete token ${t.Name || t.AccessorID}`, text: 'Delete', disabled: !canWrite, on: { click: confirmDelete(`token ${t.Name || t.AccessorID}`, `/v1/acl/token/${enc(t.AccessorID)}`) } })],
    })), ({ t }) => ({ 'data-token': t.Name })));
  } catch (e) {
    fill(tokens, ctx.errorPanel(e, 'GET /v1/acl/tokens'));
  }
  try {
    const list = await get('/v1/acl/policies');
    fill(policies, list.length === 0 ? h('p', { class: 'muted', text: 'No policies.' }) : table(`${list.length} policy(ies)`, ['Name', 'Description', 'Modify index', ''], list.map((p) => ({
      p,
      cells: [h('button', { type: 'button', class: 'secondary', 'aria-label': `View policy ${p.Name}`, text: p.Name, on: { click: () => show('Policy', `/v1/acl/policy/${enc(p.Name)}`) } }),
        p.Description || '—', p.ModifyIndex,
        h('button', { type: 'button', class: 'danger', 'aria-label': `Delete policy ${p.Name}`, text: 'Delete', disabled: !canWrite, on: { click: confirmDelete(`policy ${p.Name}`, `/v1/acl/policy/${enc(p.Name)}`) } })],
    })), ({ p }) => ({ 'data-policy': p.Name })));
  } catch (e) {
    fill(policies, ctx.errorPanel(e, 'GET /v1/acl/policies'));
  }

  const tName = h('input', { type: 'text', name: 'token-name', disabled: !canWrite });
  const tType = h('select', { name: 'token-type', disabled: !canWrite }, h('option', { value: 'client', text: 'client' }), h('option', { value: 'management', text: 'management' }));
  const tPolicies = h('input', { type: 'text', name: 'token-policies', disabled: !canWrite });
  const tokenForm = h('form', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        const body = { Name: tName.value, Type: tType.value, Policies: tPolicies.value.split(',').map((s) => s.trim()).filter(Boolean) };
        try {
          const t = await post('/v1/acl/token', body);
          ctx.status(`Created token ${t.Name}`);
          await ctx.reload();
          fill(document.querySelector('[data-test="result"]'), h('div', { class: 'panel ok', role: 'alert', 'data-test': 'token-created' },
            h('p', { text: `Created token ${t.Name}. Its secret ID is shown once here:` }), h('pre', { text: t.SecretID })));
        } catch (e) {
          ctx.status('Creating a token failed', true);
          fill(result, ctx.errorPanel(e, 'POST /v1/acl/token'));
        }
      },
    },
  }, field('Name', tName), field('Type', tType), field('Policies (comma separated)', tPolicies), h('button', { type: 'submit', 'data-test': 'token-create', text: 'Create token', disabled: !canWrite }));

  const pName = h('input', { type: 'text', name: 'policy-name', disabled: !canWrite });
  const pDesc = h('input', { type: 'text', name: 'policy-description', disabled: !canWrite });
  const pRules = h('textarea', { name: 'policy-rules', disabled: !canWrite, spellcheck: 'false' });
  const policyForm = h('form', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        try {
          await post(`/v1/acl/policy/${enc(pName.value)}`, { Name: pName.value, Description: pDesc.value, Rules: pRules.value });
          ctx.status(`Saved policy ${pName.value}`);
          ctx.reload();
        } catch (e) {
          ctx.status('Saving the policy failed', true);
          fill(result, ctx.errorPanel(e, `POST /v1/acl/policy/${pName.value}`));
        }
      },
    },
  }, field('Name', pName), field('Description', pDesc), field('Rules (HCL)', pRules), h('button', { type: 'submit', 'data-test': 'policy-create', text: 'Save policy', disabled: !canWrite }));

  fill(main, h('h1', { text: 'ACL' }),
    canWrite ? null : h('p', { class: 'panel warn', 'data-test': 'read-only', text: 'Read-only: tokens and policies can be changed with a management token only.' }),
    result,
    h('h2', { text: 'Tokens' }), tokens,
    h('h2', { text: 'Policies' }), policies,
    detail,
    h('h2', { text: 'Create a token' }), tokenForm,
    h('h2', { text: 'Create or update a policy' }), policyForm);
}
