// Servers: raft configuration, gossip members and autopilot health side by side, polled every
// second (none of the three endpoints takes a blocking query). A server autopilot or gossip
// calls unhealthy turns red.

import { get, health } from '../api.js';
import { h, fill, table, badge, when } from '../dom.js';

const POLL_MS = 1000;

export function render(main, ctx) {
  const summary = h('div', { class: 'summary', 'data-test': 'summary' });
  const body = h('div');
  const updated = h('p', { class: 'muted', 'data-test': 'updated' });
  fill(main, h('h1', { text: 'Servers' }), summary, body, updated);
  let announced = '';
  return ctx.every(POLL_MS, async () => {
    const [cfg, members, hl] = await Promise.allSettled([
      get('/v1/operator/raft/configuration'),
      get('/v1/agent/members'),
      health(),
    ]);
    // The raft configuration needs a management token (as in Nomad); with operator read only,
    // the rows come from autopilot health, which names the same servers.
    if (cfg.status === 'rejected' && hl.status === 'rejected') {
      fill(summary);
      fill(body, ctx.errorPanel(cfg.reason, 'GET /v1/operator/raft/configuration'));
      return;
    }
    const h1 = hl.status === 'fulfilled' ? hl.value : null;
    const raftCfg = cfg.status === 'fulfilled' ? cfg.value : { Servers: h1.Servers.map((s) => ({ ID: s.ID, Node: s.Name, Address: s.Address, Leader: s.Leader, Voter: s.Voter })) };
    const rows = merge(raftCfg, members.status === 'fulfilled' ? members.value : null, h1);
    const leader = rows.find((r) => r.leader);
    const bad = rows.filter((r) => !r.healthy);
    fill(summary,
      h('div', {}, 'Servers', h('strong', { 'data-test': 'server-count', text: rows.length })),
      h('div', {}, 'Leader', h('strong', { 'data-test': 'leader', text: leader ? leader.name : 'none' })),
      h('div', {}, 'Failure tolerance', h('strong', { 'data-test': 'failure-tolerance', text: h1 ? h1.FailureTolerance : '—' })),
      h('div', {}, 'Cluster', h('strong', {}, h1 ? badge(h1.Healthy ? 'good' : 'bad', h1.Healthy ? 'healthy' : 'unhealthy') : '—')));
    fill(body,
      cfg.status === 'rejected' ? h('p', { class: 'muted', 'data-test': 'raft-config-refused', text: `Raft configuration not shown (${cfg.reason.status || ''} ${cfg.reason.body || cfg.reason.message}): it needs a management token; servers are listed from autopilot health.` }) : null,
      hl.status === 'rejected' ? ctx.errorPanel(hl.reason, 'GET /v1/operator/autopilot/health') : null,
      members.status === 'rejected' ? ctx.errorPanel(members.reason, 'GET /v1/agent/members') : null,
      table(null,
        ['Name', 'Address', 'Raft ID', 'Leader', 'Voter', 'Gossip', 'Health', 'Last contact', 'Last term', 'Last index', 'Stable since'],
        rows.map((r) => ({
          r,
          cells: [
            h('strong', { text: r.name }), r.address, h('code', { text: r.id }),
            r.leader ? badge('good', 'leader') : 'follower',
            r.voter ? 'yes' : 'no',
            r.serf === 'alive' ? badge('good', 'alive') : badge('bad', r.serf),
            r.healthy ? badge('good', 'healthy') : badge('bad', 'unhealthy'),
            r.lastContact, r.lastTerm, r.lastIndex, when(r.stableSince),
          ],
        })),
        ({ r }) => ({ class: r.healthy ? '' : 'bad', 'data-server': r.name, 'data-health': r.healthy ? 'healthy' : 'unhealthy', 'data-leader': String(r.leader) })));
    fill(updated, `Updated ${new Date().toLocaleTimeString()} (every ${POLL_MS / 1000} s).`);
    const now = bad.length ? `Unhealthy: ${bad.map((r) => r.name).join(', ')}` : '';
    if (now !== announced) {
      ctx.status(now || 'All servers healthy', Boolean(now));
      announced = now;
    }
  });
}

/** One row per raft server, joined with its gossip member (by raft ID tag or address) and its
 * autopilot health (by ID). A server gossip calls failed or left, or autopilot unhealthy, is
 * unhealthy. */
export function merge(cfg, members, health) {
  const byId = new Map(((health && health.Servers) || []).map((s) => [s.ID, s]));
  const mem = (members && members.Members) || [];
  return (cfg.Servers || []).map((s) => {
    const m = mem.find((x) => (x.Tags && x.Tags.id === s.ID) || `${x.Addr}:${x.Tags && x.Tags.port}` === s.Address);
    const a = byId.get(s.ID);
    const serf = m ? m.Status : a ? a.SerfStatus : 'unknown';
    return {
      name: s.Node || (a && a.Name) || s.ID,
      address: s.Address,
      id: s.ID,
      leader: s.Leader,
      voter: s.Voter,
      serf,
      healthy: (a ? a.Healthy : true) && serf === 'alive',
      lastContact: a ? a.LastContact : '—',
      lastTerm: a ? a.LastTerm : '—',
      lastIndex: a ? a.LastIndex : '—',
      stableSince: a ? a.StableSince : null,
    };
  });
}
