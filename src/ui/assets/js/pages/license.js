// License: what is installed, days left, a warning under 30 days.

import { get } from '../api.js';
import { h, fill, table, when } from '../dom.js';

const WARN_DAYS = 30;

/** Whole days from `now` until `expiry` (negative once expired). */
export function daysLeft(expiry, now = Date.now()) {
  return Math.floor((new Date(expiry).getTime() - now) / 86400000);
}

export async function render(main, ctx) {
  let lic;
  try {
    lic = (await get('/v1/operator/license')).License;
  } catch (e) {
    fill(main, h('h1', { text: 'License' }), ctx.errorPanel(e, 'GET /v1/operator/license'));
    return;
  }
  const days = daysLeft(lic.ExpirationTime);
  const hours = Math.max(0, Math.round((new Date(lic.ExpirationTime).getTime() - Date.now()) / 3600000));
  const left = days >= 1 ? `${days} day(s)` : `${hours} hour(s)`;
  const warn = days < WARN_DAYS
    ? h('div', { class: `panel ${days < 0 ? 'error' : 'warn'}`, role: 'alert', 'data-test': 'license-warning' },
      days < 0 ? 'The license has expired.' : `The license expires in ${left} (less than ${WARN_DAYS} days).`)
    : null;
  fill(main, h('h1', { text: 'License' }), warn,
    h('div', { class: 'summary' }, h('div', {}, 'Time left', h('strong', { 'data-test': 'days-left', text: left }))),
    table(null, ['Field', 'Value'], [
      ['License ID', lic.LicenseID], ['Customer ID', lic.CustomerID], ['Product', lic.Product],
      ['Issued', when(lic.IssueTime)], ['Starts', when(lic.StartTime)], ['Expires', when(lic.ExpirationTime)],
      ['Terminates', when(lic.TerminationTime)], ['Temporary', lic.Flags && lic.Flags.temporary ? 'yes' : 'no'],
      ['Modules', (lic.Modules || []).join(', ') || '—'], ['Features', (lic.Features || []).join(', ') || '—'],
    ].map((cells) => ({ cells }))));
}
