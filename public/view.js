// Everything the dashboard draws. Values from the server go into the page as text, never as HTML.

export const TERMINAL = new Set(['Complete', 'Failed', 'Cancelled', 'CompletedWithErrors', 'CompletedNotRun']);

const $ = (selector) => document.querySelector(selector);

const CONNECTION = {
  off: ['not connected', ''],
  connecting: ['connecting…', '(connecting…)'],
  live: ['live', '(live)'],
  reconnecting: ['reconnecting…', '(offline: reconnecting…)'],
};

export function showConnection(state) {
  const [header, jobs] = CONNECTION[state];
  $('#connection').textContent = header;
  $('#connection').dataset.state = state;
  $('#jobs-live').textContent = jobs;
}

export function showMessage(text) {
  const box = $('#message');
  box.textContent = text;
  box.hidden = !text;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

/** A duration as a person reads it: 850 ms, 3.2 s, 2 min 5 s. */
export function duration(ms) {
  if (!(ms >= 0)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function cell(row, label, text, className) {
  const td = row.insertCell();
  td.dataset.label = label;
  td.textContent = text ?? '';
  if (className) td.className = className;
  return td;
}

function statusCell(row, label, status) {
  return cell(row, label, status, `status status-${status}`);
}

function button(text, onClick, className = 'secondary') {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

function empty(id, text) {
  const p = $(id);
  p.textContent = text;
  p.hidden = !text;
}

export function renderHosts({ hosts, selected, search, connected, onToggle, onDetails }) {
  const body = $('#hosts tbody');
  body.replaceChildren();
  for (const host of hosts) {
    const row = body.insertRow();
    row.dataset.hostId = host.id;
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = selected.has(host.id);
    box.setAttribute('aria-label', `select ${host.name}`);
    box.addEventListener('change', () => onToggle(host.id, box.checked));
    const pick = row.insertCell();
    pick.className = 'pick';
    pick.append(box);
    cell(row, 'Name', host.name, 'name');
    cell(row, 'Address', [host.dnsHostName, host.ipAddress].filter(Boolean).join(' '));
    cell(row, 'OS', host.os);
    cell(row, 'Version', host.version);
    const last = cell(row, 'Last scan', host.lastScanStatus ? '' : 'never', 'last-scan');
    if (host.lastScanStatus) {
      // One element, so the narrow layout keeps outcome and time on one labelled line.
      const line = document.createElement('span');
      const status = document.createElement('span');
      status.className = `status status-${host.lastScanStatus}`;
      status.textContent = host.lastScanStatus;
      line.append(status, ` ${when(host.lastScanTimeUtc)}`);
      last.append(line);
    }
    const actions = row.insertCell();
    actions.className = 'actions';
    actions.append(button('Details', () => onDetails(host.id)));
  }
  $('#scan').disabled = !connected || selected.size === 0;
  $('#select-all').checked = hosts.length > 0 && hosts.every((h) => selected.has(h.id));
  $('#hosts').hidden = hosts.length === 0;
  empty('#hosts-empty', !connected ? 'Not connected: sign in (or use a token) to see hosts.'
    : hosts.length > 0 ? ''
      : search ? `No hosts match “${search}”.`
        : 'No hosts in the inventory yet.');
}

/** What a host scan found, said once: the OS when known, else the scan's own description when it ended. */
export function found(scan) {
  if (scan.status !== 'Failed' && scan.os) return [scan.os, scan.version].filter(Boolean).join(' ');
  return TERMINAL.has(scan.status) ? scan.statusDescription : '';
}

export function renderJobs({ jobs, connected, detailId, onCancel, onDetails }) {
  const body = $('#jobs tbody');
  body.replaceChildren();
  for (const job of jobs.slice(0, 100)) {
    const row = body.insertRow();
    row.dataset.jobId = job.id;
    if (job.id === detailId) row.classList.add('selected');
    const scans = job.hostScanHostStatus;
    cell(row, 'Host', scans.map((s) => s.name).join(', '), 'name');
    statusCell(row, 'Status', job.status);
    cell(row, 'Found', scans.map(found).filter(Boolean).join('; '), 'found');
    cell(row, 'Started', when(job.createdDateTimeUtc ?? job.seenAt));
    const actions = row.insertCell();
    actions.className = 'actions';
    actions.append(button('Details', () => onDetails(job.id)));
    if (!TERMINAL.has(job.status)) actions.append(button('Cancel', () => onCancel(job.id)));
  }
  $('#jobs').hidden = jobs.length === 0;
  empty('#jobs-empty', !connected ? 'Not connected: sign in (or use a token) to see jobs.'
    : jobs.length > 0 ? '' : 'No jobs yet: tick hosts and press “Scan selected”.');
}

const times = (values) => values.filter(Boolean).map((iso) => Date.parse(iso));

/** From the first scan's start to the last one's end, or to now while any still runs. */
function jobDuration(job, now) {
  const scans = job.hostScanHostStatus;
  const starts = times(scans.map((s) => s.startedDateTimeUtc));
  if (starts.length === 0) return '';
  const running = scans.some((s) => !TERMINAL.has(s.status));
  const end = running ? now : Math.max(...times(scans.map((s) => s.finishedDateTimeUtc)), ...starts);
  return duration(end - Math.min(...starts)) + (running ? ' so far' : '');
}

function scanDuration(scan, now) {
  if (!scan.startedDateTimeUtc) return '';
  const end = scan.finishedDateTimeUtc ? Date.parse(scan.finishedDateTimeUtc) : now;
  return duration(end - Date.parse(scan.startedDateTimeUtc));
}

export function renderDetail(job, now = Date.now()) {
  const panel = $('#job-detail');
  panel.hidden = !job;
  if (!job) return;
  const facts = [
    ['Job', job.id],
    ['Status', job.status],
    ['Scheduled by', job.createdByUserName ?? job.createdBy ?? ''],
    ['From', job.createdFromAddress ?? ''],
    ['Created', when(job.createdDateTimeUtc)],
    ['Last change', when(job.modifiedDateTimeUtc)],
    ['Duration', jobDuration(job, now)],
  ];
  $('#job-detail dl').replaceChildren(...facts.flatMap(([term, value]) => {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = value;
    dd.dataset.fact = term;
    if (term === 'Status') dd.className = `status status-${value}`;
    return [dt, dd];
  }));
  const body = $('#job-detail tbody');
  body.replaceChildren();
  for (const scan of job.hostScanHostStatus) {
    const row = body.insertRow();
    cell(row, 'Host', [scan.name, scan.ipAddress && scan.ipAddress !== scan.name ? `(${scan.ipAddress})` : ''].filter(Boolean).join(' '), 'name');
    statusCell(row, 'Status', scan.status);
    cell(row, 'Description', scan.statusDescription, 'description');
    cell(row, 'Duration', scanDuration(scan, now));
  }
}
