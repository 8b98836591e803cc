// Cluster charts: every 2 s, /v1/metrics (this server's gauges and counters) and autopilot
// health (every server's last index, as the leader sees it). Kept in this page's memory, the
// last 10 minutes; nothing is stored anywhere else.

import { get, health } from '../api.js';
import { h, fill } from '../dom.js';
import { lineChart } from '../chart.js';

const POLL_MS = 2000;
const KEEP = 300;

const hist = {
  commit: [], // [t, commitIndex] from /v1/metrics (this server)
  leaderIndex: [], // [t, leader's LastIndex] from autopilot health
  writes: [], // [t, entries/s] from leaderIndex
  lag: new Map(), // server name -> [[t, entries behind the leader]]
  leaderChanges: [], // [t, changes seen since the page opened]
  changes: 0,
  lastLeader: null,
  metricsLeaderChanges: null,
};

function push(arr, p) {
  arr.push(p);
  if (arr.length > KEEP) arr.splice(0, arr.length - KEEP);
}

/** Entries behind the leader for each follower, from one autopilot health answer. */
export function lagOf(health) {
  const leader = (health.Servers || []).find((s) => s.Leader);
  if (!leader) return [];
  return health.Servers.filter((s) => !s.Leader).map((s) => [s.Name, Math.max(0, leader.LastIndex - s.LastIndex)]);
}

async function sample() {
  const t = Date.now();
  const [m, hl] = await Promise.allSettled([get('/v1/metrics'), health()]);
  if (m.status === 'fulfilled') {
    const g = (m.value.Gauges || []).find((x) => x.Name === 'nomad.raft.commitIndex');
    if (g) push(hist.commit, [t, g.Value]);
    const c = (m.value.Counters || []).filter((x) => x.Name === 'nomad.raft.leader.changes');
    hist.metricsLeaderChanges = c.reduce((n, x) => n + x.Count, 0);
  }
  if (hl.status === 'fulfilled') {
    const health = hl.value;
    const leader = (health.Servers || []).find((s) => s.Leader);
    if (leader) {
      const prev = hist.leaderIndex[hist.leaderIndex.length - 1];
      push(hist.leaderIndex, [t, leader.LastIndex]);
      if (prev && t > prev[0]) push(hist.writes, [t, Math.max(0, (leader.LastIndex - prev[1]) / ((t - prev[0]) / 1000))]);
    }
    if (hist.lastLeader !== null && health.Leader !== hist.lastLeader) hist.changes += 1;
    hist.lastLeader = health.Leader;
    push(hist.leaderChanges, [t, hist.changes]);
    for (const [name, lag] of lagOf(health)) {
      if (!hist.lag.has(name)) hist.lag.set(name, []);
      push(hist.lag.get(name), [t, lag]);
    }
  }
  return [m, hl];
}

export function render(main, ctx) {
  const grid = h('div', { class: 'charts' });
  const errors = h('div');
  const note = h('p', { class: 'muted' });
  fill(main, h('h1', { text: 'Cluster charts' }),
    h('p', { class: 'muted', text: `Sampled every ${POLL_MS / 1000} s while this page is open; the last ${(KEEP * POLL_MS) / 60000} minutes are kept in this tab only.` }),
    errors, grid, note);
  return ctx.every(POLL_MS, async () => {
    const [m, hl] = await sample();
    fill(errors,
      m.status === 'rejected' ? ctx.errorPanel(m.reason, 'GET /v1/metrics') : null,
      hl.status === 'rejected' ? ctx.errorPanel(hl.reason, 'GET /v1/operator/autopilot/health') : null);
    fill(grid,
      lineChart('Commit index', [{ name: 'leader last index', points: hist.leaderIndex }, { name: 'this server commit index', points: hist.commit }]),
      lineChart('Writes per second', [{ name: 'raft entries/s', points: hist.writes }], '/s'),
      lineChart('Replication lag per follower (entries)', [...hist.lag.entries()].map(([name, points]) => ({ name, points }))),
      lineChart('Leader changes', [{ name: 'seen by this page', points: hist.leaderChanges }]));
    fill(note, hist.metricsLeaderChanges === null ? '' : `This server counted ${hist.metricsLeaderChanges} leader change(s) in the last metrics interval (nomad.raft.leader.changes).`);
  });
}
