// The dashboard: hosts, scheduling, and live job status. Plain modules, no framework.
import { gql, rest } from './api.js';
import { BATCH_FIELDS, batchDone, createBatchStore, forgetBatches, rememberBatch, rememberedBatches, renderBatches } from './batches.js';
import { renderImport } from './csv-import.js';
import { createJobStore } from './jobs.js';
import { watchJobs } from './live.js';
import { HOST_DETAIL_QUERY, renderHostDetail } from './host-detail.js';
import { claims, enrolTotp, gatewayNow, refreshToken, signInCode, signInPassword } from './signin.js';
import { developmentToken, dropToken, keepToken, savedToken } from './token.js';
import { TERMINAL, renderDetail, renderHosts, renderJobs, showConnection, showMessage } from './view.js';

const SCAN_FIELDS = 'hostId name ipAddress status statusDescription os version failureReason startedDateTimeUtc finishedDateTimeUtc';
const JOB_FIELDS = `id revision status statusDescription hostScanHostStatus { ${SCAN_FIELDS} }`;
const JOB_DETAIL_FIELDS = `${JOB_FIELDS} createdBy createdByUserName createdFromAddress createdDateTimeUtc modifiedDateTimeUtc`;
const HOST_FIELDS = 'id name dnsHostName ipAddress os version lastScanTimeUtc lastScanStatus';

const $ = (selector) => document.querySelector(selector);

const state = {
  token: '',
  devToken: '',
  connected: false,
  live: null,
  hosts: [],
  hostsRequest: 0,
  selected: new Set(),
  jobs: createJobStore(),
  detailId: null,
  hostDetailId: null,
  batches: createBatchStore(),
  /** Batch id → the end of its progress subscription, for batches still moving. */
  batchWatches: new Map(),
  /** Batches whose subscription the gateway refused (it limits distinct subscriptions per subject): taken up as others end. */
  batchesWaiting: new Set(),
  importRequest: 0,
  importReport: null,
  importBusy: false,
};

const call = (query, variables) => gql(state.token, query, variables);

function drawHosts() {
  renderHosts({
    hosts: state.hosts,
    selected: state.selected,
    search: $('#search').value.trim(),
    connected: state.connected,
    onToggle: (id, on) => {
      if (on) state.selected.add(id);
      else state.selected.delete(id);
      drawHosts();
    },
    onDetails: (id) => void openHostDetail(id),
  });
}

/** Show one host's inventory: key trust, changes since its previous scan, accounts (privileged first). */
async function openHostDetail(id) {
  state.hostDetailId = id;
  try {
    const data = await call(HOST_DETAIL_QUERY, { id });
    if (!state.connected || state.hostDetailId !== id) return;
    renderHostDetail(data.host);
    $('#host-detail').scrollIntoView({ block: 'nearest' });
    $('#host-detail h2').focus();
  } catch (err) {
    fail(err);
  }
}

function drawJobs() {
  renderJobs({ jobs: state.jobs.list(), connected: state.connected, detailId: state.detailId, onCancel: cancelJob, onDetails: openDetail });
  renderDetail(state.detailId ? state.jobs.get(state.detailId) : null, gatewayNow());
}

function takeJobs(jobs) {
  let changed = false;
  for (const job of jobs) changed = state.jobs.merge(job) || changed;
  if (changed) drawJobs();
}

/** Only the answer to the latest hosts request is drawn, so a slow answer to an older search is dropped. */
async function loadHosts() {
  const request = ++state.hostsRequest;
  const data = await call(`query($s: String) { hosts(first: 1000, search: $s) { nodes { ${HOST_FIELDS} } } }`, { s: $('#search').value.trim() || null });
  if (request !== state.hostsRequest || !state.connected) return;
  state.hosts = data.hosts.nodes;
  drawHosts();
}

async function loadJobs() {
  const data = await call(`{ hostScanJobs(first: 50) { nodes { ${JOB_DETAIL_FIELDS} } } }`);
  if (state.connected) takeJobs(data.hostScanJobs.nodes);
}

/** Report an error; a refused token also disconnects the page. */
function fail(err) {
  if (err.refused) refuse(err.message);
  else showMessage(err.message);
}

function drawBatches() {
  renderBatches({ batches: state.batches.list(), connected: state.connected });
}

const subject = () => claims(state.token)?.sub ?? '';

/** Show a batch and follow its progress until it finishes; remembered so a reload shows it again. */
function followBatch(id) {
  if (!state.connected || !id) return;
  state.batches.expect(id);
  rememberBatch(subject(), id);
  subscribeBatch(id);
  drawBatches();
}

function subscribeBatch(id) {
  if (!state.live || state.batchWatches.has(id)) return;
  const query = `subscription($id: ID!) { hostScanBatchProgress(id: $id) { ${BATCH_FIELDS} } }`;
  state.batchWatches.set(id, state.live.subscribe(query, { id }, {
    next: (data) => state.batches.merge(data.hostScanBatchProgress) && drawBatches(),
    error: (message) => {
      state.batchWatches.delete(id);
      state.batchesWaiting.add(id);
      void readBatch(id, message);
    },
    complete: () => {
      state.batchWatches.delete(id);
      const next = state.batchesWaiting.values().next().value;
      if (next === undefined) return;
      state.batchesWaiting.delete(next);
      subscribeBatch(next);
    },
  }));
}

/** A batch without live updates: its state now, once, and why it is not live (unless it has finished). */
async function readBatch(id, why) {
  try {
    const data = await call(`query($id: ID!) { hostScanBatch(id: $id) { ${BATCH_FIELDS} } }`, { id });
    if (!state.connected || !state.batches.has(id)) return;
    state.batches.merge(data.hostScanBatch);
    if (batchDone(data.hostScanBatch)) state.batchesWaiting.delete(id);
    else state.batches.fail(id, `No live progress yet: ${why}`);
  } catch (err) {
    if (err.refused) return fail(err);
    state.batchesWaiting.delete(id);
    state.batches.fail(id, err.message);
  }
  drawBatches();
}

let hostsRefresh = null;
function watch() {
  state.live?.stop();
  // The old socket's batch subscriptions went with it: the new one takes them up (each sends its state first).
  state.batchWatches.clear();
  state.batchesWaiting.clear();
  state.live = watchJobs(state.token, JOB_FIELDS, {
    state: showConnection,
    connected: () => loadJobs().catch(fail),
    job: (job) => {
      takeJobs([job]);
      if (TERMINAL.has(job.status)) {
        // One re-read of the inventory after a burst of finished scans, for what they found.
        clearTimeout(hostsRefresh);
        hostsRefresh = setTimeout(() => loadHosts().catch(fail), 300);
      }
    },
    refused: (reason) => refuse(`The gateway closed the live connection: ${reason}.`),
    error: showMessage,
  });
  for (const { id, progress } of state.batches.list()) {
    if (!progress || progress.queued + progress.running + progress.paused > 0) subscribeBatch(id);
  }
}

/**
 * Refresh a token before it expires (GET /api/v1/UserToken): a fifth of its life before, at most a minute.
 * Only tokens this gateway issued can be refreshed; any other (a pasted one from elsewhere, the development
 * token) is used until it expires, as before. The new token replaces the old one where it was kept, and the
 * live connection starts again with it (the gateway closes a socket when its token expires).
 */
let refreshTimer = null;
function scheduleRefresh(retryIn) {
  clearTimeout(refreshTimer);
  const token = state.token;
  if (!state.connected || !token || token === state.devToken) return;
  const c = claims(token);
  if (typeof c?.exp !== 'number') return;
  const left = c.exp * 1000 - gatewayNow();
  const life = typeof c.iat === 'number' ? (c.exp - c.iat) * 1000 : left;
  const delay = retryIn ?? Math.max(0, left - Math.min(60_000, life / 5));
  if (delay > 86_400_000) {
    refreshTimer = setTimeout(() => scheduleRefresh(), 86_400_000);
    return;
  }
  refreshTimer = setTimeout(async () => {
    if (state.token !== token || !state.connected) return;
    const answer = await refreshToken(token);
    if (state.token !== token || !state.connected) return;
    if (answer.token) {
      if (savedToken() === token) keepToken(answer.token);
      state.token = answer.token;
      watch();
      scheduleRefresh();
    } else if (answer.retry && c.exp * 1000 - gatewayNow() > 10_000) {
      scheduleRefresh(5_000);
    }
  }, delay);
}

/** Forget everything the token showed. */
function disconnect() {
  clearTimeout(refreshTimer);
  state.live?.stop();
  state.live = null;
  state.batchWatches.clear();
  state.batchesWaiting.clear();
  state.connected = false;
  state.hostsRequest++;
  state.hosts = [];
  state.selected.clear();
  state.jobs.clear();
  state.detailId = null;
  state.hostDetailId = null;
  state.batches.clear();
  state.importRequest++;
  state.importReport = null;
  state.importBusy = false;
  $('#import-file').value = '';
  renderHostDetail(null);
  showConnection('off');
  drawHosts();
  drawJobs();
  drawBatches();
  drawImport();
  $('#signout').hidden = true;
}

/**
 * The gateway refused the token: nothing it showed stays on the page, it is not kept, and the development
 * token (where the gateway offers one) is put back in the field for the next "Use token".
 */
function refuse(message) {
  const refused = state.token;
  disconnect();
  dropToken(refused);
  forgetBatches();
  $('#token').value = state.devToken;
  const fallback = state.devToken && state.devToken !== refused ? ' The development token is filled in again: press “Use token” to use it.' : '';
  showMessage(`${message}${fallback}`);
}

/**
 * Try a token; it counts as accepted once the gateway has answered a query with it, and only then is it
 * kept (when `keep`). `state.connected` means a token is in use: it is set while the first query runs so
 * that its answer is drawn. Returns 'accepted', 'refused' or 'failed' (the gateway could not be asked).
 */
async function useToken(token, { keep }) {
  disconnect();
  state.token = token.trim();
  if (!state.token) {
    showMessage('Paste a token first.');
    return 'failed';
  }
  showMessage('');
  showConnection('connecting');
  state.connected = true;
  try {
    await loadHosts();
  } catch (err) {
    if (err.refused) {
      refuse(err.message);
      return 'refused';
    }
    disconnect();
    showMessage(err.message);
    return 'failed';
  }
  if (keep) keepToken(state.token);
  watch();
  drawJobs();
  for (const id of rememberedBatches(subject()).reverse()) followBatch(id);
  drawBatches();
  drawImport();
  $('#signout').hidden = false;
  scheduleRefresh();
  return 'accepted';
}

async function scanSelected() {
  const ids = [...state.selected];
  if (ids.length === 0) return;
  try {
    const data = await call(`mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { batchId ${JOB_FIELDS} } }`, { ids });
    if (!state.connected) return;
    takeJobs(data.scheduleHostScans);
    followBatch(data.scheduleHostScans[0]?.batchId);
    state.selected.clear();
    drawHosts();
    showMessage('');
  } catch (err) {
    fail(err);
  }
}

async function cancelJob(id) {
  try {
    const data = await call(`mutation($id: ID!) { cancelHostScanJob(id: $id) { ${JOB_FIELDS} } }`, { id });
    if (state.connected) takeJobs([data.cancelHostScanJob]);
  } catch (err) {
    fail(err);
  }
}

/** Show one job: what the page knows at once, then who scheduled it, from where and when. */
async function openDetail(id) {
  state.detailId = id;
  drawJobs();
  $('#job-detail').scrollIntoView({ block: 'nearest' });
  $('#job-detail h2').focus();
  try {
    const data = await call(`query($id: ID!) { hostScanJob(id: $id) { ${JOB_DETAIL_FIELDS} } }`, { id });
    if (state.connected) takeJobs([data.hostScanJob]);
  } catch (err) {
    fail(err);
  }
}

/**
 * Sign out: the token, what it showed and the batches this tab remembered are forgotten, and the sign-in
 * form is back. The gateway has no way to revoke one token (only an Admin disabling the account revokes
 * them all), so a copy of the token elsewhere stays valid until it expires (TOKEN_TTL_S).
 */
function signOut() {
  const token = state.token;
  disconnect();
  dropToken(token);
  forgetBatches();
  state.token = '';
  $('#token').value = '';
  $('#login').value = '';
  $('#password').value = '';
  showStep('password');
  showMessage('');
  $('#login').focus();
}

function drawImport() {
  renderImport({ fileName: $('#import-file').files[0]?.name ?? '', report: state.importReport, busy: state.importBusy, connected: state.connected });
}

/**
 * Send the chosen file to the gateway: `check` reports every bad row and imports nothing; `all` imports
 * only if every row is good; `good` imports the good rows. The gateway decides, the page only asks; only
 * the answer to the newest request is shown.
 */
async function sendImport(mode) {
  const file = $('#import-file').files[0];
  const request = ++state.importRequest;
  state.importReport = null;
  state.importBusy = Boolean(file);
  drawImport();
  if (!file || !state.connected) return;
  try {
    const csv = await file.text();
    const report = await rest(state.token, '/api/v1/HostScanJob/ImportCSV', { csv, importGood: mode === 'good', checkOnly: mode === 'check' });
    if (request !== state.importRequest || !state.connected) return;
    state.importReport = report;
    if (report.imported) {
      for (const job of report.jobs) followBatch(job.batchId);
      void loadHosts().catch(fail);
    }
    showMessage('');
  } catch (err) {
    if (request === state.importRequest) fail(err);
  } finally {
    if (request === state.importRequest) {
      state.importBusy = false;
      drawImport();
    }
  }
}

$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('#token').value.trim();
  void useToken(token, { keep: token !== state.devToken });
});
// Sign-in: the password, then the authenticator's code. The pre-MFA token lives only in this variable;
// the full token is used as a pasted one is (kept once the gateway has answered a query with it).
let preToken = '';
function showStep(step) {
  $('#signin-form').hidden = step !== 'password';
  $('#code-form').hidden = step !== 'code';
  $('#enrolment').hidden = true;
  $('#enrol-uri').textContent = '';
  $('#enrol-qr').replaceChildren();
  $('#enrol').hidden = false;
  $('#code').value = '';
  if (step === 'password') preToken = '';
}

async function busy(form, work) {
  const buttons = form.querySelectorAll('button');
  for (const b of buttons) b.disabled = true;
  try {
    await work();
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

$('#signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const login = $('#login').value.trim();
  const password = $('#password').value;
  void busy($('#signin-form'), async () => {
    try {
      const first = await signInPassword(login, password);
      $('#password').value = '';
      showMessage('');
      if (!first.mfa) {
        await useToken(first.token, { keep: true });
        return;
      }
      preToken = first.token;
      showStep('code');
      $('#code').focus();
    } catch (err) {
      $('#password').value = '';
      showMessage(err.message);
    }
  });
});

$('#code-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const code = $('#code').value.trim();
  void busy($('#code-form'), async () => {
    if ((claims(preToken)?.exp ?? 0) * 1000 <= gatewayNow()) {
      showStep('password');
      showMessage('The sign-in took too long; enter the password again.');
      return;
    }
    try {
      const full = await signInCode(preToken, code);
      showStep('password');
      showMessage('');
      await useToken(full, { keep: true });
    } catch (err) {
      $('#code').value = '';
      showMessage(err.message);
    }
  });
});

$('#enrol').addEventListener('click', () => {
  void busy($('#code-form'), async () => {
    try {
      const uri = await enrolTotp(preToken);
      $('#enrol-uri').textContent = uri;
      // The QR code is a convenience: without it the URI above is enough.
      try {
        const { qrCode } = await import('./qr.js');
        if (preToken) $('#enrol-qr').replaceChildren(qrCode(uri, 'QR code of the authenticator key'));
      } catch {
        $('#enrol-qr').replaceChildren();
      }
      $('#enrolment').hidden = false;
      $('#enrol').hidden = true;
      showMessage('');
      $('#code').focus();
    } catch (err) {
      showMessage(err.status === 409 ? 'This account has an authenticator already: enter its code (an Admin can reset it).' : err.message);
    }
  });
});

$('#code-cancel').addEventListener('click', () => {
  showStep('password');
  showMessage('');
});

$('#scan').addEventListener('click', () => void scanSelected());
$('#signout').addEventListener('click', signOut);
$('#import-file').addEventListener('change', () => void sendImport('check'));
$('#import-all').addEventListener('click', () => void sendImport('all'));
$('#import-good').addEventListener('click', () => void sendImport('good'));
$('#search').addEventListener('input', () => state.connected && void loadHosts().catch(fail));
$('#select-all').addEventListener('change', (event) => {
  for (const host of state.hosts) {
    if (event.target.checked) state.selected.add(host.id);
    else state.selected.delete(host.id);
  }
  drawHosts();
});
$('#host-detail-close').addEventListener('click', () => {
  state.hostDetailId = null;
  renderHostDetail(null);
});
$('#job-detail-close').addEventListener('click', () => {
  state.detailId = null;
  drawJobs();
});
// A running job's durations grow while its panel is open (a finished one is left alone, text selection and all).
setInterval(() => {
  const job = state.detailId && state.jobs.get(state.detailId);
  if (job && !TERMINAL.has(job.status)) renderDetail(job, gatewayNow());
}, 1000);

disconnect();
state.devToken = await developmentToken();
const saved = savedToken();
if (saved) {
  $('#token').value = saved;
  // A kept token the gateway no longer takes (expired, or a restarted development gateway's) gives way
  // to the development token, as on a first visit.
  if ((await useToken(saved, { keep: true })) === 'refused' && state.devToken) {
    await useToken(state.devToken, { keep: false });
    showMessage('The token kept from before was refused; the development token is in use instead.');
  }
} else if (state.devToken) {
  $('#token').value = state.devToken;
  await useToken(state.devToken, { keep: false });
}
