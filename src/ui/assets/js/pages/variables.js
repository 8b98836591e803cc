// Variables: browse by namespace and prefix, view, create, edit with CAS, delete with CAS. A
// 409 carries the variable as it is now; it is shown beside yours.

import { get, call, ApiError, enc, varPath } from '../api.js';
import { h, fill, field, table, when } from '../dom.js';

export async function renderList(main, ctx, params) {
  const ns = params.get('ns') || 'default';
  const prefix = params.get('prefix') || '';
  const nsIn = h('input', { type: 'text', name: 'namespace', value: ns, 'data-test': 'var-namespace' });
  const prefixIn = h('input', { type: 'text', name: 'prefix', value: prefix, 'data-test': 'var-prefix' });
  const form = h('form', {
    class: 'row',
    on: { submit: (ev) => { ev.preventDefault(); location.hash = `#/variables?ns=${enc(nsIn.value || 'default')}&prefix=${enc(prefixIn.value)}`; } },
  }, field('Namespace (* for all)', nsIn), field('Path prefix', prefixIn), h('div', { class: 'field' }, h('button', { type: 'submit', text: 'List' })));
  const create = ctx.perms.variablesWrite
    ? h('a', { class: 'button', href: `#/variable?ns=${enc(ns === '*' ? 'default' : ns)}&new=1`, 'data-test': 'var-create', text: 'Create variable' })
    : h('button', { type: 'button', disabled: true, 'data-test': 'var-create', text: 'Create variable' });
  const list = h('div');
  fill(main, h('h1', { text: 'Variables' }), form, h('p', {}, create), list);
  try {
    const vars = await get(`/v1/vars?namespace=${enc(ns)}&prefix=${enc(prefix)}`);
    fill(list, vars.length === 0
      ? h('p', { class: 'muted', 'data-test': 'var-empty', text: 'No variables here.' })
      : table(`${vars.length} variable(s)`, ['Path', 'Namespace', 'Modify index', 'Modified'], vars.map((v) => ({
        v,
        cells: [h('a', { href: `#/variable?ns=${enc(v.Namespace)}&path=${enc(v.Path)}`, text: v.Path }), v.Namespace, v.ModifyIndex, when(v.ModifyTime)],
      })), ({ v }) => ({ 'data-var': v.Path })));
  } catch (e) {
    fill(list, ctx.errorPanel(e, 'GET /v1/vars'));
  }
}

function itemsEditor(items, disabled) {
  const tbody = h('tbody');
  let n = 0;
  const addRow = (k = '', v = '') => {
    n += 1;
    const key = h('input', { type: 'text', value: k, 'aria-label': `Key ${n}`, 'data-test': 'item-key', disabled });
    const val = h('input', { type: 'text', value: v, 'aria-label': `Value ${n}`, 'data-test': 'item-value', disabled });
    const row = h('tr', {}, h('td', {}, key), h('td', {}, val), h('td', {},
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove item ${n}`, text: 'Remove', disabled, on: { click: () => row.remove() } })));
    tbody.append(row);
  };
  for (const [k, v] of Object.entries(items)) addRow(k, v);
  if (Object.keys(items).length === 0) addRow();
  const node = h('div', {},
    h('div', { class: 'table-wrap' }, h('table', { class: 'items' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Key' }), h('th', { scope: 'col', text: 'Value' }), h('th', { scope: 'col', text: '' }))), tbody)),
    h('p', {}, h('button', { type: 'button', class: 'secondary', 'data-test': 'item-add', text: 'Add item', disabled, on: { click: () => addRow() } })));
  const collect = () => {
    const out = {};
    for (const row of tbody.rows) {
      const [k, v] = row.querySelectorAll('input');
      if (k.value.trim()) out[k.value.trim()] = v.value;
    }
    return out;
  };
  return { node, collect };
}

export async function renderOne(main, ctx, params) {
  const ns = params.get('ns') || 'default';
  const isNew = params.get('new') === '1';
  let path = params.get('path') || '';
  let v = { Namespace: ns, Path: path, Items: {}, ModifyIndex: 0 };
  const back = h('p', {}, h('a', { href: `#/variables?ns=${enc(ns)}`, text: '← Variables' }));
  if (!isNew) {
    try {
      v = await get(`/v1/var/${varPath(path)}?namespace=${enc(ns)}`);
    } catch (e) {
      fill(main, back, h('h1', { text: path }), ctx.errorPanel(e, `GET /v1/var/${path}`));
      return;
    }
  }
  const canWrite = ctx.perms.variablesWrite;
  const pathIn = isNew ? h('input', { type: 'text', name: 'path', 'data-test': 'var-path', required: true }) : null;
  const editor = itemsEditor(v.Items || {}, !canWrite);
  const result = h('div', { 'data-test': 'result' });
  const target = () => (isNew ? pathIn.value.trim() : path);

  const conflict = (mine, current, what) => {
    ctx.status(`Conflict: ${current.Path} changed since you loaded it`, true);
    fill(result, h('div', { class: 'panel warn', role: 'alert', 'data-test': 'conflict' },
      h('h2', { text: 'Conflict' }),
      h('p', { text: `${what} was refused: the variable is now at ModifyIndex ${current.ModifyIndex}. Nothing was changed.` }),
      h('div', { class: 'side-by-side' },
        h('div', {}, h('h3', { text: 'Yours' }), h('pre', { 'data-test': 'conflict-mine', text: JSON.stringify(mine, null, 2) })),
        h('div', {}, h('h3', { text: `Current (ModifyIndex ${current.ModifyIndex})` }), h('pre', { 'data-test': 'conflict-current', text: JSON.stringify(current.Items || {}, null, 2) }))),
      h('button', { type: 'button', class: 'secondary', text: 'Load current', on: { click: () => { location.hash = `#/variable?ns=${enc(ns)}&path=${enc(current.Path)}`; ctx.reload(); } } })));
    result.scrollIntoView({ block: 'nearest' });
  };

  const save = async () => {
    const p = target();
    if (!p) {
      fill(result, h('div', { class: 'panel error', role: 'alert', text: 'A path is required.' }));
      return;
    }
    const items = editor.collect();
    try {
      const saved = (await call('PUT', `/v1/var/${varPath(p)}?namespace=${enc(ns)}&cas=${v.ModifyIndex}`, { Namespace: ns, Path: p, Items: items })).data;
      ctx.status(`Saved ${p} (ModifyIndex ${saved.ModifyIndex})`);
      location.hash = `#/variable?ns=${enc(ns)}&path=${enc(p)}`;
      if (!isNew) ctx.reload();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.json) conflict(items, e.json, 'Saving');
      else {
        ctx.status(`Saving ${p} failed`, true);
        fill(result, ctx.errorPanel(e, `PUT /v1/var/${p}`));
      }
    }
  };

  const remove = async () => {
    try {
      await call('DELETE', `/v1/var/${varPath(path)}?namespace=${enc(ns)}&cas=${v.ModifyIndex}`);
      ctx.status(`Deleted ${path}`);
      location.hash = `#/variables?ns=${enc(ns)}`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.json) conflict(v.Items, e.json, 'Deleting');
      else {
        ctx.status(`Deleting ${path} failed`, true);
        fill(result, ctx.errorPanel(e, `DELETE /v1/var/${path}`));
      }
    }
  };

  const confirmBox = h('div');
  const askDelete = () => fill(confirmBox, h('div', { class: 'panel warn', role: 'alert' },
    h('p', { text: `Delete ${path} in namespace ${ns} (ModifyIndex ${v.ModifyIndex})? This cannot be undone.` }),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'danger', 'data-test': 'var-delete-confirm', text: 'Delete', on: { click: remove } }),
      h('button', { type: 'button', class: 'secondary', text: 'Cancel', on: { click: () => fill(confirmBox) } }))));

  const form = h('form', { on: { submit: (ev) => { ev.preventDefault(); save(); } } },
    isNew ? field('Path', pathIn, 'e.g. nomad/jobs/web or app/config') : null,
    h('h2', { text: 'Items' }), editor.node,
    h('div', { class: 'row' },
      h('button', { type: 'submit', 'data-test': 'var-save', text: isNew ? 'Create' : 'Save', disabled: !canWrite }),
      isNew ? null : h('button', { type: 'button', class: 'danger', 'data-test': 'var-delete', text: 'Delete', disabled: !canWrite, on: { click: askDelete } })));
  fill(main, back,
    h('h1', { text: isNew ? 'New variable' : path }),
    isNew ? h('p', { class: 'muted', text: `Namespace ${ns}. Created only if the path is free (?cas=0).` })
      : h('p', { class: 'muted' }, `Namespace ${v.Namespace} · ModifyIndex `, h('strong', { 'data-test': 'modify-index', text: v.ModifyIndex }), ` · modified ${when(v.ModifyTime)}`),
    canWrite ? null : h('p', { class: 'panel warn', 'data-test': 'read-only', text: 'Read-only: this token cannot write variables here.' }),
    form, confirmBox, result);
}
