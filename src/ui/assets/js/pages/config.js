// Autopilot and scheduler configuration: a form built from the current value, saved with
// ?cas=<ModifyIndex>. When someone else saved in between, the conflict shows their version
// beside yours, and you pick one.

import { get, put } from '../api.js';
import { h, fill, field } from '../dom.js';

const SKIP = new Set(['CreateIndex', 'ModifyIndex']);
const CHOICES = { SchedulerAlgorithm: ['binpack', 'spread'] };

const KINDS = {
  autopilot: {
    title: 'Autopilot configuration',
    path: '/v1/operator/autopilot/configuration',
    read: (d) => d,
    // Nomad answers a bare true/false.
    saved: (d) => d === true,
  },
  scheduler: {
    title: 'Scheduler configuration',
    path: '/v1/operator/scheduler/configuration',
    read: (d) => d.SchedulerConfig,
    saved: (d) => Boolean(d && d.Updated),
  },
};

export const renderAutopilot = (main, ctx) => render(KINDS.autopilot, main, ctx);
export const renderScheduler = (main, ctx) => render(KINDS.scheduler, main, ctx);

/** The editable part of a configuration: everything but its indexes. */
export function editable(cfg) {
  return Object.fromEntries(Object.entries(cfg).filter(([k]) => !SKIP.has(k)));
}

function controls(obj, disabled, prefix = '') {
  const refs = {};
  const nodes = [];
  for (const [k, v] of Object.entries(obj)) {
    if (SKIP.has(k)) continue;
    const name = prefix + k;
    if (v !== null && typeof v === 'object') {
      const sub = controls(v, disabled, `${name}.`);
      refs[k] = sub.refs;
      nodes.push(h('fieldset', {}, h('legend', { text: k }), sub.nodes));
      continue;
    }
    let c;
    if (typeof v === 'boolean') c = h('input', { type: 'checkbox', name, checked: v, disabled });
    else if (typeof v === 'number') c = h('input', { type: 'number', name, value: String(v), step: '1', disabled });
    else if (CHOICES[k]) c = h('select', { name, disabled }, CHOICES[k].map((o) => h('option', { value: o, text: o, selected: o === v })));
    else c = h('input', { type: 'text', name, value: v === null ? '' : String(v), disabled });
    refs[k] = c;
    nodes.push(field(k, c));
  }
  return { refs, nodes };
}

function collect(refs) {
  const out = {};
  for (const [k, c] of Object.entries(refs)) {
    if (!(c instanceof Element)) out[k] = collect(c);
    else if (c.type === 'checkbox') out[k] = c.checked;
    else if (c.type === 'number') out[k] = Number(c.value);
    else out[k] = c.value;
  }
  return out;
}

async function render(kind, main, ctx) {
  let cfg;
  try {
    cfg = kind.read(await get(kind.path));
  } catch (e) {
    fill(main, h('h1', { text: kind.title }), ctx.errorPanel(e, `GET ${kind.path}`));
    return;
  }
  const canWrite = ctx.perms.operatorWrite;
  const { refs, nodes } = controls(cfg, !canWrite);
  const result = h('div', { 'data-test': 'result' });
  const saveBtn = h('button', { type: 'submit', 'data-test': 'save', text: 'Save', disabled: !canWrite });
  const save = async (cas, mine) => {
    try {
      const answer = await put(`${kind.path}?cas=${cas}`, mine);
      if (kind.saved(answer)) {
        ctx.status(`${kind.title} saved`);
        await ctx.reload();
        return;
      }
      const current = kind.read(await get(kind.path));
      ctx.status(`Conflict: ${kind.title.toLowerCase()} changed since you loaded it`, true);
      fill(result, h('div', { class: 'panel warn', role: 'alert', 'data-test': 'conflict' },
        h('h2', { text: 'Conflict' }),
        h('p', { text: `Someone saved version ${current.ModifyIndex} after you loaded version ${cas}. Nothing was changed. Compare and choose:` }),
        h('div', { class: 'side-by-side' },
          h('div', {}, h('h3', { text: 'Yours (not saved)' }), h('pre', { 'data-test': 'conflict-mine', text: JSON.stringify(mine, null, 2) })),
          h('div', {}, h('h3', { text: `Current (ModifyIndex ${current.ModifyIndex})` }), h('pre', { 'data-test': 'conflict-current', text: JSON.stringify(editable(current), null, 2) }))),
        h('div', { class: 'row' },
          h('button', { type: 'button', class: 'secondary', 'data-test': 'conflict-reload', text: 'Discard mine, load current', on: { click: () => ctx.reload() } }),
          h('button', { type: 'button', 'data-test': 'conflict-overwrite', text: 'Save mine over current', on: { click: () => save(current.ModifyIndex, mine) } }))));
      result.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      ctx.status(`Saving ${kind.title.toLowerCase()} failed`, true);
      fill(result, ctx.errorPanel(e, `PUT ${kind.path}`));
    }
  };
  const form = h('form', {
    'data-test': 'config-form',
    on: { submit: (ev) => { ev.preventDefault(); save(cfg.ModifyIndex, collect(refs)); } },
  }, nodes, h('div', { class: 'row' }, saveBtn));
  fill(main, h('h1', { text: kind.title }),
    h('p', { class: 'muted' }, `Version (ModifyIndex) `, h('strong', { 'data-test': 'modify-index', text: cfg.ModifyIndex }), '. Saving uses ', h('code', { text: `?cas=${cfg.ModifyIndex}` }), ', so a change made meanwhile is never overwritten unseen.'),
    canWrite ? null : h('p', { class: 'panel warn', 'data-test': 'read-only', text: 'Read-only: this token cannot change the operator configuration (operator write is needed).' }),
    form, result);
}
