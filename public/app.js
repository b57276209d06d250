// The dashboard: hosts, scheduling, and live job status over the hostScanJobStatus subscription.
// Plain modules, no framework; every value from the server goes into the page as text, never as HTML.
import { createClient } from '/assets/graphql-ws/client.js';

const TERMINAL = new Set(['Complete', 'Failed', 'Cancelled', 'CompletedWithErrors', 'CompletedNotRun']);
const JOB_FIELDS = `id status statusDescription hostScanHostStatus {
  hostId name ipAddress status statusDescription os version failureReason startedDateTimeUtc }`;

const $ = (selector) => document.querySelector(selector);
const state = { token: '', socket: null, hosts: [], jobs: new Map(), selected: new Set() };

function showMessage(text) {
  const box = $('#message');
  box.textContent = text;
  box.hidden = !text;
}

async function gql(query, variables) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${state.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}` }] }));
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join(' '));
  return body.data;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? '';
  if (className) td.className = className;
  return td;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

function renderHosts() {
  const body = $('#hosts tbody');
  body.replaceChildren();
  for (const host of state.hosts) {
    const row = body.insertRow();
    row.dataset.hostId = host.id;
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = state.selected.has(host.id);
    box.setAttribute('aria-label', `select ${host.name}`);
    box.addEventListener('change', () => {
      if (box.checked) state.selected.add(host.id);
      else state.selected.delete(host.id);
      $('#scan').disabled = state.selected.size === 0;
    });
    row.insertCell().append(box);
    cell(row, host.name);
    cell(row, host.dnsHostName ? `${host.dnsHostName} ${host.ipAddress ?? ''}` : host.ipAddress);
    cell(row, host.os);
    cell(row, host.version);
    cell(row, when(host.lastScanTimeUtc));
  }
  $('#scan').disabled = state.selected.size === 0;
}

function found(scan) {
  if (scan.status === 'Failed') return `${scan.failureReason}: ${scan.statusDescription}`;
  if (scan.os) return [scan.os, scan.version].filter(Boolean).join(' ');
  return TERMINAL.has(scan.status) ? scan.statusDescription : '';
}

function renderJobs() {
  const body = $('#jobs tbody');
  body.replaceChildren();
  const jobs = [...state.jobs.values()].sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? ''));
  for (const job of jobs.slice(0, 100)) {
    const row = body.insertRow();
    row.dataset.jobId = job.id;
    const scans = job.hostScanHostStatus;
    cell(row, scans.map((s) => s.name).join(', '));
    cell(row, job.status, `status status-${job.status}`);
    cell(row, scans.map(found).filter(Boolean).join('; '), 'found');
    cell(row, when(job.startedAt));
    const actions = row.insertCell();
    if (!TERMINAL.has(job.status)) {
      const cancel = document.createElement('button');
      cancel.className = 'secondary';
      cancel.textContent = 'Cancel';
      cancel.addEventListener('click', () => cancelJob(job.id));
      actions.append(cancel);
    }
  }
}

function remember(job) {
  const known = state.jobs.get(job.id);
  const startedAt = known?.startedAt ?? job.createdDateTimeUtc ?? job.hostScanHostStatus.find((s) => s.startedDateTimeUtc)?.startedDateTimeUtc ?? new Date().toISOString();
  state.jobs.set(job.id, { ...known, ...job, startedAt });
}

async function loadHosts() {
  const data = await gql('query($s: String) { hosts(first: 1000, search: $s) { nodes { id name dnsHostName ipAddress os version lastScanTimeUtc } } }', { s: $('#search').value || null });
  state.hosts = data.hosts.nodes;
  renderHosts();
}

async function loadJobs() {
  const data = await gql(`{ hostScanJobs(first: 50) { nodes { createdDateTimeUtc ${JOB_FIELDS} } } }`);
  for (const job of data.hostScanJobs.nodes) remember(job);
  renderJobs();
}

let refreshHosts = null;
function watch() {
  state.socket?.dispose();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  state.socket = createClient({
    url,
    connectionParams: () => ({ Authorization: `Bearer ${state.token}` }),
    retryAttempts: Infinity,
    shouldRetry: (event) => event?.code !== 4403,
    on: {
      connected: () => ($('#connection').textContent = 'live'),
      closed: (event) => {
        $('#connection').textContent = 'disconnected';
        if (event?.code === 4403) showMessage('The server refused the token or it expired; paste a new one.');
      },
    },
  });
  state.socket.subscribe({ query: `subscription { hostScanJobStatus { ${JOB_FIELDS} } }` }, {
    next: ({ data }) => {
      const job = data?.hostScanJobStatus;
      if (!job) return;
      remember(job);
      renderJobs();
      if (TERMINAL.has(job.status)) {
        clearTimeout(refreshHosts);
        refreshHosts = setTimeout(() => loadHosts().catch((e) => showMessage(e.message)), 300);
      }
    },
    error: (err) => showMessage(Array.isArray(err) ? err.map((e) => e.message).join(' ') : String(err?.reason ?? err?.message ?? err)),
    complete: () => {},
  });
}

async function scanSelected() {
  const ids = [...state.selected];
  if (ids.length === 0) return;
  try {
    const data = await gql(`mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { ${JOB_FIELDS} } }`, { ids });
    for (const job of data.scheduleHostScans) remember(job);
    state.selected.clear();
    renderHosts();
    renderJobs();
    showMessage('');
  } catch (err) {
    showMessage(err.message);
  }
}

async function cancelJob(id) {
  try {
    remember((await gql(`mutation($id: ID!) { cancelHostScanJob(id: $id) { ${JOB_FIELDS} } }`, { id })).cancelHostScanJob);
    renderJobs();
  } catch (err) {
    showMessage(err.message);
  }
}

async function useToken(token) {
  state.token = token.trim();
  sessionStorage.setItem('scan-gateway-token', state.token);
  showMessage('');
  try {
    await Promise.all([loadHosts(), loadJobs()]);
    watch();
  } catch (err) {
    showMessage(err.message);
  }
}

$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void useToken($('#token').value);
});
$('#scan').addEventListener('click', () => void scanSelected());
$('#search').addEventListener('input', () => void loadHosts().catch((e) => showMessage(e.message)));
$('#select-all').addEventListener('change', (event) => {
  for (const host of state.hosts) {
    if (event.target.checked) state.selected.add(host.id);
    else state.selected.delete(host.id);
  }
  renderHosts();
});

const saved = sessionStorage.getItem('scan-gateway-token');
const { devToken } = await fetch('/dashboard/config.json').then((r) => r.json()).catch(() => ({}));
const initial = saved || devToken || '';
if (initial) {
  $('#token').value = initial;
  void useToken(initial);
}
