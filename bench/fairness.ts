// Fairness: how long one caller waits for a single-host scan while another caller's 10,000-host batch runs.
// A sample is one REST `ByHostIdMultiple` call for one answering loopback host, from the call until its
// Complete arrives on a graphql-ws subscription (`hostScanJobStatus(jobIds)`, subscribed once the call
// answered, so the job's current state comes first). Ceiling, in the same run: the bare probe of that host
// (the gateway's probe scanner, SSH and WinRM at once, nothing else). Samples are taken idle, then while a
// batch of BATCH hosts of another caller runs (host records reusing LISTENERS listeners, loopback only).
// Targets (issue 18): idle p50 ≤ 2 × probe p50 + 10 ms; p99 under the batch ≤ 10 × idle p99. A second ceiling:
// the store work of one scan alone (schedule, claim, record on a store of its own), for the proposed idle bound.
// The gateway runs in this process (as in bench/scan.ts); the listeners in a separate one.
//   npm run build && node --import tsx bench/fairness.ts [--pg] [--batch=10000] [--listeners=500] [--samples=200] [--concurrency=N]
import 'reflect-metadata';
import { createClient, type Client } from 'graphql-ws';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Store } from '../src/store';
import { fmt, forkHelper, report, tempDatabase, tempDir } from './lib';

const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');
const { sqlOf } = require('../dist/store') as typeof import('../src/store');
const { createProbeScanner } = require('../dist/scanner/probe') as typeof import('../src/scanner/probe');
const { TALKING_CONCURRENCY } = require('../dist/runner') as typeof import('../src/runner');

const flag = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const USE_PG = process.argv.includes('--pg');
const BATCH = flag('batch', 10_000);
const LISTENERS = flag('listeners', 500);
const SAMPLES = flag('samples', 200);
/** SCAN_CONCURRENCY for the gateway; unset, its default. */
const CONCURRENCY = process.argv.find((a) => a.startsWith('--concurrency='))?.split('=')[1];
const WARM = 20;
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const ms = (n: number) => `${fmt(n, 1)} ms`;
const loadAverage = () => os.loadavg().map((l) => fmt(l, 2)).join(', ');

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The bare probe of the single host, one at a time. */
async function probeTimes(sshPort: number, winRmPort: number, n: number): Promise<number[]> {
  const scanner = createProbeScanner();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const outcome = await scanner.scan({ name: 'single', dnsHostName: null, ipAddress: '127.0.0.1', sshPort, winRmPort }, new AbortController().signal);
    if (!outcome.ok) throw new Error(`probe failed: ${outcome.description}`);
    times.push(performance.now() - started);
  }
  return times;
}

/**
 * The store work of one scan, one at a time, on a store of its own: schedule its job, claim it, record its
 * result (three transactions, as the gateway's path has), no network. What a scan cannot go below besides
 * its probe, whatever the gateway does around them.
 */
async function storeTimes(n: number): Promise<number[]> {
  const data = tempDir('fairness-store-');
  const db = USE_PG ? await tempDatabase() : null;
  if (USE_PG && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  const { openStore } = require('../dist/store') as typeof import('../src/store');
  const store = await openStore({ databaseUrl: db?.url ?? null, dataDir: join(data.dir, 'db') });
  const [host] = (await store.hosts.upsert([{ name: 'single', ipAddress: '127.0.0.1' }])).hosts!;
  const result = { status: 2, description: 'Complete: Debian 12', failureReason: 0, ipAddress: '127.0.0.1', os: 'Debian', version: '12', hostConnected: true };
  const times: number[] = [];
  for (let i = 0; i < WARM + n; i++) {
    const started = performance.now();
    await store.jobs.schedule([host!.id], { subject: 'bench', userName: 'bench', address: null });
    const { scans } = await store.queue.claim('bench', 1, 60_000);
    await store.queue.finish('bench', scans.map((s) => ({ scanId: s.id, result })), { limit: 0, leaseMs: 60_000 });
    if (i >= WARM) times.push(performance.now() - started);
  }
  await store.stop();
  await db?.drop();
  data.remove();
  return times;
}

/** Single-host scans that ended other than Complete (their time to the end is still a sample). */
const failures: string[] = [];
/** Scans of each batch run that ended other than Complete, and one of their descriptions. */
const batchFailures: number[] = [];
let batchFailureExample = '';

/**
 * One sample: REST call → Complete on the subscription, of which the call → its answer, and from the store,
 * queued → leased and leased → recorded (ms).
 */
interface Sample {
  total: number;
  answered: number;
  attempts: number;
  leased: number;
  recorded: number;
}

async function sample(url: string, ws: Client, token: string, hostId: string, store: Store): Promise<Sample> {
  const started = performance.now();
  const res = await fetch(`${url}/api/v1/HostScanJob/ByHostIdMultiple`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify([hostId]),
  });
  if (res.status !== 200) throw new Error(`schedule failed: ${res.status} ${await res.text()}`);
  const [job] = (await res.json()) as { id: string }[];
  const answered = performance.now() - started;
  const last = await new Promise<string>((resolve, reject) => {
    let status = '';
    ws.subscribe<{ hostScanJobStatus: { status: string } }>(
      { query: 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { status } }', variables: { ids: [job!.id] } },
      { next: (r) => (status = r.data?.hostScanJobStatus.status ?? status), error: reject, complete: () => resolve(status) },
    );
  });
  const total = performance.now() - started;
  // The store's own clock: when the scan was queued, leased (started_at) and recorded (finished_at).
  const [done] = await store.jobs.getJobs([job!.id]);
  const scan = done!.scans[0]!;
  if (last !== 'Complete') failures.push(`${last}: ${scan.statusDescription}`);
  return { total, answered, attempts: scan.attempts, leased: +scan.startedAt! - +scan.createdAt, recorded: +scan.finishedAt! - +scan.startedAt! };
}

(async () => {
  console.log(`load average at start: ${loadAverage()}`);
  const listeners = forkHelper<{ ports: number[] }>('listeners-child.ts', [String(LISTENERS + 1)]);
  const { ports } = await listeners.first;
  const [singlePort, ...batchPorts] = ports;
  const closedPort = await freePort();

  await probeTimes(singlePort!, closedPort, WARM);
  const probes = await probeTimes(singlePort!, closedPort, SAMPLES);
  const storeWork = await storeTimes(SAMPLES);

  const data = tempDir('fairness-bench-');
  const db = USE_PG ? await tempDatabase() : null;
  if (USE_PG && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  const hostsPath = join(data.dir, 'hosts.json');
  const batchIds = Array.from({ length: BATCH }, () => crypto.randomUUID());
  const singleId = crypto.randomUUID();
  writeFileSync(hostsPath, JSON.stringify([
    { id: singleId, name: 'single', ipAddress: '127.0.0.1', sshPort: singlePort, winRmPort: closedPort },
    ...batchIds.map((id, i) => ({ id, name: `batch-${i}`, ipAddress: '127.0.0.1', sshPort: batchPorts[i % batchPorts.length], winRmPort: closedPort })),
  ]));
  const config = loadConfig({
    ...(db ? { DATABASE_URL: db.url } : {}),
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(data.dir, 'db'), HOSTS_FILE: hostsPath, JWT_SECRET: SECRET, LOG_LEVEL: 'warn',
    ...(CONCURRENCY ? { SCAN_CONCURRENCY: CONCURRENCY } : {}),
    RATE_LIMIT_PER_ADDRESS: '0', RATE_LIMIT_PER_SUBJECT: '0', WS_MAX_MESSAGES_PER_SECOND: '100000', MAX_HOST_IDS: String(Math.max(1000, BATCH)),
  });
  const gateway = await startGateway(config, { logger: createLogger('warn') });
  const batchToken = mintToken({ key: Buffer.from(SECRET), subject: 'bench-batch', roles: ['Admin'], ttl: '1h' });
  const singleToken = mintToken({ key: Buffer.from(SECRET), subject: 'bench-single', roles: ['App'], ttl: '1h' });
  const ws = createClient({ url: `${gateway.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { Authorization: `Bearer ${singleToken}` }, lazy: false, retryAttempts: 0 });

  /** The batch's scans not yet recorded (the single host's one at most besides). */
  const queued = async () => {
    const { queued: waiting, running } = await gateway.store.queue.depth();
    return waiting + running;
  };
  /** The batch from another caller; resolves with its scans per second once none of it is queued or running. */
  const runBatch = async (whileRunning: () => Promise<void>) => {
    const started = performance.now();
    const res = await fetch(`${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, {
      method: 'POST', headers: { authorization: `Bearer ${batchToken}`, 'content-type': 'application/json' }, body: JSON.stringify(batchIds),
    });
    if (res.status !== 200) throw new Error(`batch schedule failed: ${res.status} ${await res.text()}`);
    await whileRunning();
    while ((await queued()) > 0) await new Promise((r) => setTimeout(r, 20));
    const rate = BATCH / ((performance.now() - started) / 1000);
    const failed = await sqlOf(gateway.store).query<{ n: number; d: string }>(
      'SELECT count(*)::int AS n, min(status_description) AS d FROM host_scans WHERE status <> 2 AND finished_at > now() - make_interval(secs => $1)', [(performance.now() - started) / 1000]);
    batchFailures.push(failed[0]!.n);
    if (failed[0]!.n > 0) batchFailureExample = failed[0]!.d;
    return rate;
  };

  const take = () => sample(gateway.url, ws, singleToken, singleId, gateway.store);
  for (let i = 0; i < WARM; i++) await take();
  const idle: Sample[] = [];
  for (let i = 0; i < SAMPLES; i++) idle.push(await take());

  // The batch once to warm its path (a first run compiles and caches what later ones reuse), then alone,
  // then again with samples taken while it runs.
  await runBatch(async () => {});
  const batchAlone = await runBatch(async () => {});
  const loaded: Sample[] = [];
  let queuedAtSamples = 0;
  let batchRounds = 0;
  let batchWithSamples = 0;
  while (loaded.length < SAMPLES && batchRounds < 5) {
    batchRounds++;
    batchWithSamples = await runBatch(async () => {
      while (loaded.length < SAMPLES) {
        const waiting = await queued();
        if (waiting < batchPorts.length) break; // the batch is ending: a sample now would not be under it
        loaded.push(await take());
        queuedAtSamples += waiting;
      }
    });
  }
  await ws.dispose();
  await gateway.stop();
  await db?.drop();
  data.remove();
  listeners.child.disconnect();

  const probeP50 = quantile(probes, 0.5);
  const q = (xs: Sample[], pick: (x: Sample) => number, p: number) => quantile(xs.map(pick), p);
  const idleP50 = q(idle, (x) => x.total, 0.5);
  const idleP99 = q(idle, (x) => x.total, 0.99);
  const loadedP99 = q(loaded, (x) => x.total, 0.99);
  const slowest = (xs: Sample[]) => {
    const x = xs.reduce((a, b) => (b.total > a.total ? b : a));
    return `${ms(x.total)}: call answered ${ms(x.answered)}, queued → leased ${ms(x.leased)}, leased → recorded ${ms(x.recorded)}, attempts ${x.attempts}`;
  };
  const parts = (xs: Sample[]) =>
    `call answered ${ms(q(xs, (x) => x.answered, 0.5))} / ${ms(q(xs, (x) => x.answered, 0.99))}; queued → leased ${ms(q(xs, (x) => x.leased, 0.5))} / ${ms(q(xs, (x) => x.leased, 0.99))}; leased → recorded ${ms(q(xs, (x) => x.recorded, 0.5))} / ${ms(q(xs, (x) => x.recorded, 0.99))}`;
  report(`Fairness: one answering host, REST call → Complete on graphql-ws, ${USE_PG ? 'PostgreSQL' : 'embedded store'}, SCAN_CONCURRENCY ${config.scanConcurrency}, ${os.availableParallelism()} cores; batch of ${fmt(BATCH)} hosts over ${LISTENERS} loopback listeners from another caller`, [
    ['ceiling: bare probe of the host (p50 / p99)', `${ms(probeP50)} / ${ms(quantile(probes, 0.99))} (${probes.length} probes)`],
    ['idle: p50 / p99', `${ms(idleP50)} / ${ms(idleP99)} (${idle.length} samples)`],
    ['  of which, p50 / p99', parts(idle)],
    ['  p50 against 2 × probe p50 + 10 ms (target ≤ 1)', `${fmt(idleP50 / (2 * probeP50 + 10), 2)}`],
    ['  ceiling: the store alone, one scan: schedule, claim, record (p50)', ms(quantile(storeWork, 0.5))],
    ['  p50 against 2 × probe p50 + the store alone p50 + 10 ms (proposed ≤ 1)', `${fmt(idleP50 / (2 * probeP50 + quantile(storeWork, 0.5) + 10), 2)}`],
    ['while the batch runs: p50 / p99 / max', `${ms(q(loaded, (x) => x.total, 0.5))} / ${ms(loadedP99)} / ${ms(Math.max(...loaded.map((x) => x.total)))} (${loaded.length} samples, ${fmt(queuedAtSamples / Math.max(1, loaded.length))} batch scans not yet recorded on average, ${batchRounds} batch runs)`],
    ['  of which, p50 / p99', parts(loaded)],
    ['  the slowest sample', slowest(loaded)],
    ['  p99 against idle p99 (target ≤ 10)', `${fmt(loadedP99 / idleP99, 2)}`],
    ['the batch: alone / with the samples', `${fmt(batchAlone)} / ${fmt(batchWithSamples)} scans/s (schedule call → last scan recorded)`],
    ['single-host scans not Complete', failures.length === 0 ? 'none' : `${failures.length}, first: ${failures[0]}`],
    ['batch scans not Complete, per batch run', `${batchFailures.join(', ')}${batchFailureExample ? `; e.g. ${batchFailureExample}` : ''}`],
    ['  a scan in flight under the batch (scans talking at once ÷ batch rate)', ms((Math.min(config.scanConcurrency, TALKING_CONCURRENCY) / batchWithSamples) * 1000)],
  ]);
  console.log(`load average at end: ${loadAverage()}`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
