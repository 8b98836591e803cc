// Snapshots: save one now (the archive is fetched with the token and handed to the browser
// as a download), restore one after a confirmation that names what it replaces.

import { get, health, raw, ApiError } from '../api.js';
import { h, fill, field, table } from '../dom.js';
import { readMeta } from '../tar.js';

/** Nomad's CLI name for a saved snapshot: nomad-state-<YYYYMMDD>-<unix>.snap. */
export function snapshotName(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `nomad-state-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${Math.floor(d.getTime() / 1000)}.snap`;
}

function bytes(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

async function currentState() {
  const out = { index: null, variables: null, tokens: null };
  const [hl, vars, toks] = await Promise.allSettled([health(), get('/v1/vars?namespace=*'), get('/v1/acl/tokens')]);
  if (hl.status === 'fulfilled') {
    const leader = (hl.value.Servers || []).find((s) => s.Leader);
    if (leader) out.index = leader.LastIndex;
  }
  if (vars.status === 'fulfilled') out.variables = vars.value.length;
  if (toks.status === 'fulfilled') out.tokens = toks.value.length;
  return out;
}

export function render(main, ctx) {
  const canRestore = ctx.perms.management;
  const saveResult = h('div', { 'data-test': 'save-result' });
  const restoreResult = h('div', { 'data-test': 'restore-result' });
  const saveBtn = h('button', { type: 'button', 'data-test': 'snapshot-save', text: 'Download snapshot now' });
  saveBtn.addEventListener('click', async () => {
    saveBtn.disabled = true;
    ctx.status('Saving a snapshot…');
    try {
      const r = await raw('GET', '/v1/operator/snapshot');
      const blob = await r.blob();
      const name = snapshotName();
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      ctx.status(`Snapshot saved as ${name}`);
      fill(saveResult, h('p', { class: 'panel ok', 'data-test': 'save-ok' }, `Downloaded ${name} (${bytes(blob.size)}, raft index ${r.headers.get('X-Nomad-Index') || '?'}).`));
    } catch (e) {
      ctx.status('Saving a snapshot failed', true);
      fill(saveResult, ctx.errorPanel(e, 'GET /v1/operator/snapshot'));
    } finally {
      saveBtn.disabled = false;
    }
  });

  const fileIn = h('input', { type: 'file', name: 'archive', accept: '.snap,application/gzip,application/octet-stream', 'data-test': 'snapshot-file', disabled: !canRestore });
  const confirmBox = h('div');
  fileIn.addEventListener('change', async () => {
    fill(restoreResult);
    const file = fileIn.files && fileIn.files[0];
    if (!file) return fill(confirmBox);
    let meta;
    try {
      meta = await readMeta(file);
    } catch (e) {
      fill(confirmBox, h('div', { class: 'panel error', role: 'alert', 'data-test': 'snapshot-bad' }, `${file.name} cannot be restored: ${e.message}`));
      return;
    }
    const now = await currentState();
    const known = (v) => (v === null ? 'unknown' : v);
    const restoreBtn = h('button', { type: 'button', class: 'danger', 'data-test': 'snapshot-restore-confirm', text: `Replace the cluster's state with ${file.name}` });
    restoreBtn.addEventListener('click', async () => {
      restoreBtn.disabled = true;
      ctx.status(`Restoring ${file.name}…`);
      try {
        await raw('PUT', '/v1/operator/snapshot', file);
        fill(confirmBox);
        fileIn.value = '';
        ctx.status(`Snapshot ${file.name} restored`);
        fill(restoreResult, h('p', { class: 'panel ok', 'data-test': 'restore-ok', text: `Restored ${file.name} (index ${meta.Index}).` }));
      } catch (e) {
        restoreBtn.disabled = false;
        ctx.status('Restore failed', true);
        fill(restoreResult, ctx.errorPanel(e instanceof ApiError ? e : new Error(String(e)), 'PUT /v1/operator/snapshot'));
      }
    });
    fill(confirmBox, h('div', { class: 'panel warn', role: 'alert', 'data-test': 'snapshot-confirm' },
      h('h2', { text: 'Replace the whole cluster state?' }),
      h('div', { class: 'side-by-side' },
        h('div', {}, h('h3', { text: 'Now (will be replaced)' }), table(null, ['', ''], [
          ['Raft index', known(now.index)], ['Variables', known(now.variables)], ['ACL tokens', known(now.tokens)],
        ].map((cells) => ({ cells })))),
        h('div', {}, h('h3', { text: `Archive ${file.name}` }), table(null, ['', ''], [
          ['Raft index', meta.Index], ['Term', meta.Term], ['Snapshot ID', meta.ID], ['Size', bytes(file.size)],
        ].map((cells) => ({ cells }))))),
      h('p', { text: 'Every server takes the archive\'s state; writes made since it was saved are lost.' }),
      h('div', { class: 'row' }, restoreBtn, h('button', { type: 'button', class: 'secondary', text: 'Cancel', on: { click: () => { fileIn.value = ''; fill(confirmBox); } } }))));
  });

  const schedBox = h('div', { 'data-test': 'schedule', 'aria-live': 'polite' });
  fill(main, h('h1', { text: 'Snapshots' }),
    h('h2', { text: 'Save' }),
    h('p', { text: 'Saves the whole replicated state as Nomad\'s snapshot archive (needs snapshot-save or operator write) and downloads it.' }),
    saveBtn, saveResult,
    h('h2', { text: 'Restore' }),
    canRestore ? null : h('p', { class: 'panel warn', 'data-test': 'read-only', text: 'Read-only: restoring needs a management token.' }),
    field('Snapshot archive to restore', fileIn, 'You are asked to confirm after the archive is read.'),
    confirmBox, restoreResult,
    h('h2', { text: 'Scheduled snapshots' }),
    schedBox);
  loadSchedule(schedBox, ctx);
}

/** This server's `snapshot { }` schedule and its last rounds (GET /v1/agent/snapshot-schedule). */
async function loadSchedule(box, ctx) {
  fill(box, h('p', { class: 'muted', text: 'Loading the schedule…' }));
  let s;
  try {
    s = await get('/v1/agent/snapshot-schedule');
  } catch (e) {
    fill(box, ctx.errorPanel(e, 'GET /v1/agent/snapshot-schedule'));
    return;
  }
  if (!s.Enabled) {
    fill(box, h('p', { 'data-test': 'schedule-off' }, 'This server has no ', h('code', { text: 'snapshot { interval retain path }' }), ' block: it saves no snapshots on its own.'));
    return;
  }
  const st = s.Status || {};
  const failing = st.LastFailure && (!st.LastSuccess || st.LastFailure > st.LastSuccess);
  fill(box,
    h('p', { class: failing ? 'panel warn' : 'muted', 'data-test': 'schedule-state', text: failing ? `The last round failed: ${st.LastError}` : 'Only the leader saves; this is the schedule of the server this page talks to.' }),
    table(null, ['Setting', 'Value'], [
      ['Interval', s.Interval], ['Retain', s.Retain === 0 ? 'all' : s.Retain], ['Path', s.Path],
      ['Rounds', st.Rounds ?? 0], ['Failures', st.Failures ?? 0],
      ['Last success', st.LastSuccess ? `${st.LastSuccess} (${st.LastSuccessFile}, raft index ${st.LastSuccessIndex})` : 'none yet'],
      ['Last failure', st.LastFailure ? `${st.LastFailure}: ${st.LastError}` : 'none'],
    ].map((cells) => ({ cells })), () => ({ 'data-test': 'schedule-row' })));
}
