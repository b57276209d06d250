// Scans of N loopback SSH listeners through the whole gateway (REST schedule → runner → scanner → store),
// against a bare concurrent banner grab of the same listeners at the same concurrency, in the same run.
// Also the CPU time each scan costs (this process, its threads and the listeners' process) for the grab, the
// scanner alone (the one the gateway runs: the probes, then the host key of a host that has none recorded;
// these listeners hang up after their banner, so every scan tries the key), the store alone and the gateway: on a machine with C cores nothing can beat C seconds / CPU
// per scan, and a gateway that both probes and records needs the scanner's CPU plus the store's. Its scanner
// runs on a thread of its own and the store client on the main thread: neither thread can do more than one
// second of work a second, a second bound, and the gateway is compared with the lower of the two.
// Every phase runs warm, as a running gateway does: the grab and the scanner after a pass over 200 listeners,
// the store alone after a first call of WARM_SCANS scans on the same instance, the gateway after that and two
// calls over all the hosts (its scanner thread starts cold). A fresh store
// thread compiles PostgreSQL's WebAssembly and optimizes as it goes, which a one-second run would otherwise
// count as work per scan. The store alone does all the store work a scan needs: scheduling its job, claiming
// it and recording its result (the gateway's figure always included its schedule call).
//   npm run build && node --import tsx bench/scan.ts [count] [concurrency] [--pg] [--rounds=3]
//   (the gateway runs with SCAN_CONCURRENCY = concurrency)
import 'reflect-metadata';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { forkHelper, tempDir, tempDatabase, pool, median, fmt, report, loopbackHostsFile, benchGatewayEnv } from './lib';
import type { ScanResult } from '../src/store';

const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { sqlOf } = require('../dist/store') as typeof import('../src/store');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');
const { createProbeScanner } = require('../dist/scanner/probe') as typeof import('../src/scanner/probe');
const { createCredentialedScanner } = require('../dist/scanner/credentialed') as typeof import('../src/scanner/credentialed');

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const COUNT = Number(positional[0] ?? 1000);
const CONCURRENCY = Number(positional[1] ?? 32);
const USE_PG = process.argv.includes('--pg');
const ROUNDS = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length) ?? 3);
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const WARM_SCANS = Math.min(200, COUNT);

/**
 * What `measure` returns: scans per second, CPU µs per scan, and the µs per scan this process's main thread
 * was busy (its event loop not waiting) with the share of the time it was, with what the work resolved with.
 */
type Figures = { rate: number; cpuUs: number; mainUs: number; mainBusy: number };

function grab(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
      if (data.includes('\n')) {
        socket.destroy();
        resolve(data.slice(0, data.indexOf('\n')));
      }
    });
    socket.on('error', reject);
  });
}

let listeners: { child: ChildProcess; first: Promise<{ ports: number[] }> };
/** CPU seconds used so far by this process (all its threads) and the listeners' process; with --pg, also the PostgreSQL server's. */
async function cpuSeconds(): Promise<number> {
  const reply = new Promise<{ cpu: NodeJS.CpuUsage }>((resolve) => listeners.child.once('message', (m) => resolve(m as { cpu: NodeJS.CpuUsage })));
  listeners.child.send('cpu');
  const { cpu } = await reply;
  const self = process.cpuUsage();
  return (self.user + self.system + cpu.user + cpu.system) / 1e6 + (USE_PG ? postgresCpuSeconds() : 0);
}

/**
 * CPU seconds of the machine's PostgreSQL processes (Linux /proc; the server is local): each live process's
 * run time in nanoseconds (schedstat; its stat's user and system times come in 10 ms ticks, which over a phase
 * of a few hundred milliseconds summed over several backends made the figure jump by a tenth), plus the
 * ticks of children that exited, counted through their parent, so the sum only grows.
 */
function postgresCpuSeconds(): number {
  let seconds = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let stat: string;
    let schedstat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (!stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).startsWith('postgres')) continue;
      schedstat = readFileSync(`/proc/${pid}/schedstat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[13..14]: cutime, cstime
    seconds += Number(schedstat.split(' ')[0]) / 1e9 + (Number(fields[13]) + Number(fields[14])) / 100; // USER_HZ
  }
  return seconds;
}

/** Runs `work` over COUNT scans; returns its Figures. */
async function measure<E extends object | void>(work: () => Promise<E>): Promise<Figures & (E extends object ? E : unknown)> {
  const cpu = await cpuSeconds();
  const loop = performance.eventLoopUtilization();
  const started = performance.now();
  const extra = await work();
  const seconds = (performance.now() - started) / 1000;
  const main = performance.eventLoopUtilization(loop);
  return {
    rate: COUNT / seconds, cpuUs: ((await cpuSeconds()) - cpu) * 1e6 / COUNT, mainUs: (main.active * 1000) / COUNT, mainBusy: main.utilization, ...extra,
  } as Figures & (E extends object ? E : unknown);
}

const ceiling = (ports: number[]) => measure(() => pool(ports, CONCURRENCY, grab));

/**
 * The gateway's own scanner, composed as the gateway composes it (SSH and WinRM probed at once, then the
 * host key at first contact), given the hosts as the gateway's store hands them over (no credential, no key
 * recorded yet), without the store or the runner.
 */
function scannerRate(ports: number[], closedPort: number): Promise<Figures> {
  const scanner = createCredentialedScanner({ probe: createProbeScanner(), credentials: null });
  const ssh = { credentialId: null, trust: 2 /* ErrorOnThumbprintMismatch, the default */, acceptKeyOnFirstContact: true, trustedKey: null };
  return measure(() => pool(ports, CONCURRENCY, async (port) => {
    const outcome = await scanner.scan({ name: 'x', dnsHostName: null, ipAddress: '127.0.0.1', sshPort: port, winRmPort: closedPort, ssh }, new AbortController().signal);
    if (!outcome.ok) throw new Error(outcome.description);
  }));
}

/**
 * The store alone, on a store of its own: schedule jobs for COUNT hosts in one call, then claim and record
 * their scans in batches of CONCURRENCY; no network. Warmed up by doing so for the first WARM_SCANS hosts.
 */
async function storeRate(): Promise<Figures> {
  const data = tempDir('scan-store-');
  const db = USE_PG ? await tempDatabase() : null;
  if (USE_PG && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  const { openStore } = require('../dist/store') as typeof import('../src/store');
  const store = await openStore({ databaseUrl: db?.url ?? null, dataDir: join(data.dir, 'db') });
  const hosts = (await store.hosts.upsert(Array.from({ length: COUNT }, (_, i) => ({ name: `s-${i}`, ipAddress: '127.0.0.1' })))).hosts!;
  const result: ScanResult = { status: 2, description: 'Complete: Debian 12', failureReason: 0, ipAddress: '127.0.0.1', os: 'Debian', version: '12', hostConnected: true };
  const scanAll = async (hostIds: string[]) => {
    await store.jobs.schedule(hostIds, { subject: 'bench', userName: 'bench', address: null });
    let { scans } = await store.queue.claim('bench', CONCURRENCY, 60_000);
    while (scans.length > 0) {
      ({ claimed: scans } = await store.queue.finish('bench', scans.map((s) => ({ scanId: s.id, result })), { limit: CONCURRENCY, leaseMs: 60_000 }));
    }
  };
  await scanAll(hosts.slice(0, WARM_SCANS).map((h) => h.id));
  const measured = await measure(() => scanAll(hosts.map((h) => h.id)));
  await store.stop();
  await db?.drop();
  data.remove();
  return measured;
}

/** A gateway of its own, warmed up, scans all the listeners with one REST call; resolves when every scan is stored. */
async function gatewayRate(ports: number[], closedPort: number): Promise<Figures & { complete: number }> {
  const data = tempDir('scan-bench-');
  const { path: hostsPath, ids } = loopbackHostsFile(data.dir, ports, closedPort);
  const db = USE_PG ? await tempDatabase() : null;
  if (USE_PG && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  const config = loadConfig(benchGatewayEnv({ dir: data.dir, hostsPath, databaseUrl: db?.url ?? null, secret: SECRET, concurrency: CONCURRENCY, maxHostIds: Math.max(1000, COUNT) }));
  const gateway = await startGateway(config, { logger: createLogger('warn') });
  const token = mintToken({ key: Buffer.from(SECRET), subject: 'bench', roles: ['Admin'], ttl: '1h' });
  /** One REST call for these hosts; resolves when as many jobs have ended (earlier calls' jobs ended before). */
  const scanAll = async (hostIds: string[]) => {
    const finished = new Set<string>();
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    const unsubscribe = gateway.events.subscribe((job) => {
      if (job.scans.every((s) => s.status >= 2 && s.status <= 6) && !finished.has(job.id)) {
        finished.add(job.id);
        if (finished.size === hostIds.length) resolveAll();
      }
    });
    const res = await fetch(`${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(hostIds),
    });
    if (res.status !== 200) throw new Error(`schedule failed: ${res.status} ${await res.text()}`);
    await all;
    unsubscribe();
  };
  const completeScans = async () => (await sqlOf(gateway.store).query<{ n: number }>('SELECT count(*)::int AS n FROM host_scans WHERE status = 2'))[0]!.n;
  // The scanner's thread is new with each gateway and compiles as it goes: two passes over all the hosts
  // (2,000 scans by default) bring it where the scanner alone, in this process since the start, already is.
  await scanAll(ids.slice(0, WARM_SCANS));
  await scanAll(ids);
  await scanAll(ids);
  const before = await completeScans();
  const scanned = await measure(() => scanAll(ids));
  const complete = (await completeScans()) - before;
  await gateway.stop();
  await db?.drop();
  data.remove();
  return { ...scanned, complete };
}

(async () => {
  listeners = forkHelper<{ ports: number[] }>('listeners-child.ts', [String(COUNT)]);
  const { ports } = await listeners.first;
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));

  await ceiling(ports.slice(0, 200)); // warm-up
  await scannerRate(ports.slice(0, 200), closedPort);
  // Interleaved rounds: this machine's speed drifts by tens of percent within minutes, so each round
  // measures every phase close together, its ratios are taken within the round, and the medians reported.
  // Each round has its own gateway and store, so no phase runs beside another's idle instance and every
  // round starts from the same history.
  type Round = { bare: Figures; probes: Figures; ours: Figures & { complete: number }; storeOnly: Figures };
  const rounds: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const bare = await ceiling(ports);
    const probes = await scannerRate(ports, closedPort);
    const ours = await gatewayRate(ports, closedPort);
    const storeOnly = await storeRate();
    rounds.push({ bare, probes, ours, storeOnly });
  }
  listeners.child.disconnect();
  const cores = os.availableParallelism();
  const cpuBound = (cpuUs: number) => (cores * 1e6) / cpuUs;
  const of = (pick: (r: Round) => number) => median(rounds.map(pick));
  const each = (pick: (r: Round) => number, digits = 2) => rounds.map((r) => fmt(pick(r), digits)).join(', ');
  const toGrab = (r: Round) => r.ours.rate / r.bare.rate;
  const toBoth = (r: Round) => r.ours.rate / cpuBound(r.probes.cpuUs + r.storeOnly.cpuUs);
  const toOwn = (r: Round) => r.ours.rate / cpuBound(r.ours.cpuUs);
  // The gateway's scanner thread does the scanner's JavaScript work and its main thread the store client's: no
  // scan rate beats one second over the larger, however many cores are free (the embedded store's client work
  // is a message to its thread; PostgreSQL's is the pg driver's, on the main thread).
  const mainBound = (r: Round) => 1e6 / Math.max(r.probes.mainUs, r.storeOnly.mainUs);
  const toBound = (r: Round) => r.ours.rate / Math.min(cpuBound(r.probes.cpuUs + r.storeOnly.cpuUs), mainBound(r));
  const incomplete = rounds.filter((r) => r.ours.complete !== COUNT).length;
  report(`Scans of ${COUNT} loopback SSH listeners (in a separate process), concurrency ${CONCURRENCY}, ${USE_PG ? 'PostgreSQL' : 'embedded store'}, ${cores} cores; medians of ${ROUNDS} interleaved rounds`, [
    ['gateway: one REST call → scans → results stored', `${fmt(of((r) => r.ours.rate))} scans/s (rounds: ${each((r) => r.ours.rate, 0)}; ${incomplete === 0 ? `all ${COUNT} Complete in each` : `${incomplete} rounds with scans not Complete`})`],
    ['  ceiling: bare concurrent banner grab', `${fmt(of((r) => r.bare.rate))} scans/s`],
    ['  ratio (target ≥ 0.7)', `${fmt(of(toGrab), 2)} (rounds: ${each(toGrab)})`],
    ['where the time goes: the scanner alone (SSH + WinRM probes, host key at first contact; no store)', `${fmt(of((r) => r.probes.rate))} scans/s (${fmt(of((r) => r.probes.rate / r.bare.rate), 2)} of the ceiling)`],
    ['  the store alone (schedule, claim and record in batches, no network)', `${fmt(of((r) => r.storeOnly.rate))} scans/s (rounds: ${each((r) => r.storeOnly.rate, 0)}; gateway at ${fmt(of((r) => r.ours.rate / r.storeOnly.rate), 2)} of it)`],
    [`CPU per scan, all processes${USE_PG ? ' (with the PostgreSQL server\'s)' : ''}: bare grab`, `${fmt(of((r) => r.bare.cpuUs))} µs (no scan can beat ${fmt(of((r) => cpuBound(r.bare.cpuUs)))}/s on ${cores} cores)`],
    ['  scanner alone', `${fmt(of((r) => r.probes.cpuUs))} µs`],
    ['  store alone', `${fmt(of((r) => r.storeOnly.cpuUs))} µs`],
    ['  gateway', `${fmt(of((r) => r.ours.cpuUs))} µs (${fmt(of((r) => r.ours.cpuUs / r.bare.cpuUs), 1)}× the grab)`],
    ['gateway against cores ÷ (scanner CPU + store CPU)', `${fmt(of(toBoth), 2)} (rounds: ${each(toBoth)})`],
    ['gateway against cores ÷ its own CPU', `${fmt(of(toOwn), 2)} (rounds: ${each(toOwn)})`],
    ['main thread busy per scan: scanner alone', `${fmt(of((r) => r.probes.mainUs))} µs`],
    ['  store alone', `${fmt(of((r) => r.storeOnly.mainUs))} µs (the busier of the two threads: at most ${fmt(of(mainBound))} scans/s)`],
    ['  gateway', `${fmt(of((r) => r.ours.mainUs))} µs, busy ${fmt(of((r) => r.ours.mainBusy * 100), 0)} % of its time`],
    ['gateway against the lower of the two bounds', `${fmt(of(toBound), 2)} (rounds: ${each(toBound)})`],
  ]);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
