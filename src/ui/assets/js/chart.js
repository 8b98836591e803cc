// Small time-series line charts drawn as SVG: no library, a fixed viewBox that scales with
// its container.

import { h } from './dom.js';

const W = 420;
const H = 160;
const PAD = { l: 52, r: 8, t: 8, b: 22 };

/** A figure with one line per series: series = [{name, points: [[unixMs, value], ...]}]. */
export function lineChart(title, series, unit = '') {
  const all = series.flatMap((s) => s.points);
  const svg = h('svg:svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': describe(title, series, unit) });
  if (all.length === 0) {
    svg.append(h('svg:text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', text: 'waiting for data…' }));
  } else {
    const t0 = Math.min(...all.map((p) => p[0]));
    const t1 = Math.max(...all.map((p) => p[0]), t0 + 1);
    let v0 = Math.min(0, ...all.map((p) => p[1]));
    let v1 = Math.max(...all.map((p) => p[1]));
    if (v1 <= v0) v1 = v0 + 1;
    const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - ((v - v0) / (v1 - v0)) * (H - PAD.t - PAD.b);
    svg.append(
      h('svg:line', { class: 'axis', x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b }),
      h('svg:line', { class: 'axis', x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b }),
      h('svg:text', { x: PAD.l - 4, y: PAD.t + 10, 'text-anchor': 'end', text: fmt(v1) }),
      h('svg:text', { x: PAD.l - 4, y: H - PAD.b, 'text-anchor': 'end', text: fmt(v0) }),
      h('svg:text', { x: PAD.l, y: H - 6, text: new Date(t0).toLocaleTimeString() }),
      h('svg:text', { x: W - PAD.r, y: H - 6, 'text-anchor': 'end', text: new Date(t1).toLocaleTimeString() }));
    series.forEach((s, i) => {
      if (s.points.length === 0) return;
      const pts = s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      svg.append(h('svg:polyline', { class: `line s${i % 6}`, points: pts }));
    });
  }
  const max = all.length ? Math.max(...all.map((p) => p[1])) : '';
  return h('figure', { class: 'chart', 'data-test': 'chart', 'data-max': max },
    h('figcaption', { text: title }),
    svg,
    h('ul', { class: 'legend' }, series.map((s, i) => {
      const last = s.points.length ? s.points[s.points.length - 1][1] : null;
      return h('li', {}, h('span', { class: `swatch s${i % 6}`, 'aria-hidden': 'true' }), `${s.name}: ${last === null ? '—' : fmt(last)}${unit}`);
    })));
}

function fmt(v) {
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function describe(title, series, unit) {
  const parts = series.map((s) => {
    const last = s.points.length ? s.points[s.points.length - 1][1] : null;
    return `${s.name} ${last === null ? 'no data' : fmt(last) + unit}`;
  });
  return `${title}: ${parts.join(', ') || 'no data'}`;
}
