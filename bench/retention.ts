// Retention while scans run (issue 16): a store holding JOBS finished jobs past the retention (one scan each,
// ten jobs to a batch, filled with bulk SQL), and a gateway scanning HOSTS loopback SSH listeners in waves
// (one REST call each, SCAN_CONCURRENCY 32). Waves alternate: one with nothing else running (the ceiling),
// one while the gateway's own pruning (retention.ts `pruneAll` over `store.retention.pruneJobs`, batches of
// 500 as the gateway runs it) removes the next slice of the old jobs, until all are gone. Each wave's
// throughput and every scan's latency (schedule call → the job's terminal event) are compared between the
// two kinds, and pruning's own time is summed. The slices are sized so that pruning outlasts its wave; a
// wave that pruning did not cover to its end is counted and said.
//   npm run build && node --import tsx bench/retention.ts [--pg] [--jobs=100000] [--hosts=200] [--slice=5000]
import 'reflect-metadata';
import net from 'node:net';
import os from 'node:os';
import { forkHelper, tempDir, tempDatabase, median, fmt, report, loopbackHostsFile, benchGatewayEnv } from './lib';

const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { sqlOf } = require('../dist/store') as typeof import('../src/store');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');
const { pruneAll, JOB_PRUNE_BATCH } = require('../dist/retention') as typeof import('../src/retention');

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const USE_PG = process.argv.includes('--pg');
const JOBS = arg('jobs', 100_000);
const HOSTS = arg('hosts', 200);
const SLICE = arg('slice', 5_000);
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const FILL_CHUNK = 10_000;
// The old jobs last changed a second apart, from 60 days ago: far past a retention of days.
const BASE = new Date(Date.now() - 60 * 86_400_000);
const at = (second: number) => new Date(BASE.getTime() + second * 1000);

type Wave = { seconds: number; latencies: number[]; covered: boolean };

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

(async () => {
  const listeners = forkHelper<{ ports: number[] }>('listeners-child.ts', [String(HOSTS)]);
  const { ports } = await listeners.first;
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));

  const data = tempDir('retention-bench-');
  const { path: hostsPath, ids } = loopbackHostsFile(data.dir, ports, closedPort);
  const db = USE_PG ? await tempDatabase() : null;
  if (USE_PG && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  // JOB_RETENTION_DAYS stays 0: the gateway's hourly pruning would start on its own; here it is started by slice.
  const config = loadConfig(benchGatewayEnv({ dir: data.dir, hostsPath, databaseUrl: db?.url ?? null, secret: SECRET, concurrency: 32, maxHostIds: Math.max(1000, HOSTS) }));
  const gateway = await startGateway(config, { logger: createLogger('warn') });
  const sql = sqlOf(gateway.store);
  const token = mintToken({ key: Buffer.from(SECRET), subject: 'bench', roles: ['Admin'], ttl: '1h' });

  const filling = performance.now();
  for (let from = 0; from < JOBS; from += FILL_CHUNK) {
    const to = Math.min(JOBS, from + FILL_CHUNK) - 1;
    await sql.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO host_scan_jobs (id, status, revision, created_by, created_by_user_name, created_at, modified_at)
         SELECT md5('job' || g)::uuid, 2, 3, 'bench-fill', 'bench-fill', $1::timestamptz + g * interval '1 second', $1::timestamptz + g * interval '1 second'
         FROM generate_series($2::int, $3::int) g`, [BASE, from, to]);
      await tx.query(
        `INSERT INTO host_scans (id, job_id, host_id, position, name, ip_address, status, status_description, host_connected, started_at, finished_at, created_at, modified_at)
         SELECT md5('scan' || g)::uuid, md5('job' || g)::uuid, (ARRAY(SELECT id FROM hosts ORDER BY name))[1 + g % $4::int], 0, 'old-' || g, '127.0.0.1',
                2, 'Complete: Debian 12', true, t, t, t, t
         FROM generate_series($2::int, $3::int) g, LATERAL (SELECT $1::timestamptz + g * interval '1 second' AS t) s`, [BASE, from, to, HOSTS]);
      await tx.query(
        `INSERT INTO host_scan_batches (id, created_by, created_at)
         SELECT md5('batch' || b)::uuid, 'bench', $1::timestamptz + b * 10 * interval '1 second' FROM generate_series($2::int / 10, $3::int / 10) b`, [BASE, from, to]);
      await tx.query(
        `INSERT INTO host_scan_batch_jobs (batch_id, job_id) SELECT md5('batch' || (g / 10))::uuid, md5('job' || g)::uuid FROM generate_series($1::int, $2::int) g`,
        [from, to]);
    });
  }
  const fillSeconds = (performance.now() - filling) / 1000;
  const count = async (table: string) => (await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
  const oldJobs = async () => (await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM host_scan_jobs WHERE created_by = 'bench-fill'`))[0]!.n;
  if ((await oldJobs()) !== JOBS) throw new Error(`the fill made ${await oldJobs()} jobs, not ${JOBS}`);

  /** One REST call for every host; resolves when each of its jobs has ended, with each one's latency. */
  async function wave(): Promise<Omit<Wave, 'covered'>> {
    const latencies: number[] = [];
    const pending = new Set<string>();
    const early = new Map<string, number>();
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    const started = performance.now();
    const unsubscribe = gateway.events.subscribe((job) => {
      if (!job.scans.every((s) => s.status >= 2 && s.status <= 6)) return;
      const now = performance.now();
      if (pending.delete(job.id)) {
        latencies.push(now - started);
        if (pending.size === 0) resolveAll();
      } else {
        early.set(job.id, now); // ended before the schedule call's answer was read
      }
    });
    const res = await fetch(`${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(ids),
    });
    if (res.status !== 200) throw new Error(`schedule failed: ${res.status} ${await res.text()}`);
    for (const job of (await res.json()) as { id: string }[]) {
      const ended = early.get(job.id);
      if (ended === undefined) pending.add(job.id);
      else latencies.push(ended - started);
    }
    if (pending.size > 0) await all;
    unsubscribe();
    return { seconds: (performance.now() - started) / 1000, latencies };
  }

  // Each call holds the store (PGlite has one connection; on PostgreSQL it holds the rows): timed, for the longest hold.
  const holds: number[] = [];
  const prune = async (before: Date, n: number) => {
    const t0 = performance.now();
    const done = await gateway.store.retention.pruneJobs(before, n);
    holds.push(performance.now() - t0);
    return done;
  };
  for (let i = 0; i < 3; i++) await wave(); // warm: the store thread, the JIT, the runner
  const ceiling: Wave[] = [];
  const pruning: Wave[] = [];
  let pruneSeconds = 0;
  let removed = 0;
  const load = os.loadavg()[0]!;
  for (let slice = 1; removed < JOBS; slice++) {
    ceiling.push({ ...(await wave()), covered: true });
    const before = at(Math.min(JOBS, slice * SLICE));
    let pruned = false;
    const startedPrune = performance.now();
    const pruneRun = pruneAll(prune, before, JOB_PRUNE_BATCH).then((n) => {
      pruned = true;
      removed += n;
      pruneSeconds += (performance.now() - startedPrune) / 1000;
    });
    const measured = await wave();
    pruning.push({ ...measured, covered: !pruned });
    await pruneRun;
  }
  const left = { jobs: await oldJobs(), batches: await count('host_scan_batches'), scans: await count('host_scans') };
  const loadEnd = os.loadavg()[0]!;
  await gateway.stop();
  listeners.child.disconnect();
  await db?.drop();
  data.remove();

  const rate = (w: Wave) => HOSTS / w.seconds;
  const all = (ws: Wave[]) => ws.flatMap((w) => w.latencies);
  const uncovered = pruning.filter((w) => !w.covered).length;
  const figures = {
    rateCeiling: median(ceiling.map(rate)), ratePruning: median(pruning.map(rate)),
    p50Ceiling: percentile(all(ceiling), 50), p50Pruning: percentile(all(pruning), 50),
    p99Ceiling: percentile(all(ceiling), 99), p99Pruning: percentile(all(pruning), 99),
  };
  report(`Retention of ${fmt(JOBS)} old finished jobs (${fmt(JOBS / 10)} batches) while ${HOSTS} loopback hosts are scanned in waves, ${USE_PG ? 'PostgreSQL' : 'embedded store'}, ${os.availableParallelism()} cores; load average ${load.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end`, [
    ['fill (bulk SQL)', `${fmt(fillSeconds, 1)} s`],
    ['waves: without pruning (ceiling) / with pruning', `${ceiling.length} / ${pruning.length}${uncovered ? ` (${uncovered} ended after their slice's pruning)` : ' (each covered by pruning to its end)'}`],
    ['scans/s per wave, median: with pruning', `${fmt(figures.ratePruning)} (waves: ${pruning.map((w) => fmt(rate(w))).join(', ')})`],
    ['  ceiling: without pruning', `${fmt(figures.rateCeiling)} (waves: ${ceiling.map((w) => fmt(rate(w))).join(', ')})`],
    ['  ratio (1.0 = unchanged)', fmt(figures.ratePruning / figures.rateCeiling, 2)],
    ['scan latency p50: with pruning / without', `${fmt(figures.p50Pruning)} ms / ${fmt(figures.p50Ceiling)} ms, ratio ${fmt(figures.p50Pruning / figures.p50Ceiling, 2)}`],
    ['scan latency p99: with pruning / without', `${fmt(figures.p99Pruning)} ms / ${fmt(figures.p99Ceiling)} ms, ratio ${fmt(figures.p99Pruning / figures.p99Ceiling, 2)}`],
    ['pruning: time for all slices (beside the waves)', `${fmt(pruneSeconds, 1)} s, ${fmt(removed / pruneSeconds)} jobs/s, ${fmt(removed)} removed`],
    [`one pruneJobs call (${JOB_PRUNE_BATCH} jobs): median, p99, longest`, `${fmt(median(holds), 1)} ms, ${fmt(percentile(holds, 99), 1)} ms, ${fmt(Math.max(...holds), 1)} ms (${holds.length} calls)`],
    ['left afterwards: old jobs, batches, scans', `${left.jobs}, ${left.batches}, ${left.scans}`],
  ]);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
