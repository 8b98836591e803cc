// Builds DOM nodes without innerHTML: every text a server sends is set as text, never parsed.

/** h('tag', {attr: value, on: {click: fn}}, ...children): an element. */
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'disabled') {
      el[k] = Boolean(v);
      if (k === 'disabled') el.setAttribute('disabled', '');
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let nextId = 0;
/** A labelled form control: `field('Name', input)` wires `for`/`id`. */
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++nextId}`;
  const isCheck = control.type === 'checkbox';
  const lab = h('label', { for: control.id, text: label });
  const hintEl = hint ? h('span', { class: 'muted', id: `${control.id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return isCheck ? h('div', { class: 'field check' }, control, lab, hintEl) : h('div', { class: 'field' }, lab, control, hintEl);
}

/** A table from a header list and rows of cells (nodes or text). */
export function table(caption, headers, rows, rowAttrs = () => ({})) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', { class: 'muted', text: caption }) : null,
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows.map((r, i) => h('tr', rowAttrs(r, i), r.cells.map((c) => h('td', {}, c)))))));
}

export function badge(kind, text) {
  return h('span', { class: `badge ${kind}`, text });
}

/** Formats an RFC 3339 time or unix nanoseconds as local time. */
export function when(t) {
  if (t === null || t === undefined || t === '') return '—';
  const d = typeof t === 'number' ? new Date(t / 1e6) : new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}
