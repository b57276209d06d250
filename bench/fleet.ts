// The gateway against nmap on a fleet in a network namespace (test/support/fleet.ts): SSH hosts, WinRM
// hosts, closed hosts (RST), silent hosts (SYNs dropped) and a few slow ones (banner after 1–3 s), reached
// from this process through a veth. In interleaved rounds, each with its own gateway:
//   - the gateway: one ByHostIdMultiple call for every host → the last job terminal (seen on its in-process
//     event bus, which costs the run nothing), from a cold start (no scan before: its connect timeout starts
//     knowing nothing, as nmap does);
//   - nmap -n -Pn -sV --version-light -T4 -p22,5985 (the command), pinned to the fleet's interface;
//   - the gateway's scanner alone (no store, no runner) over the answering hosts at the same concurrency,
//     for the bound of the second target.
// Then both tools' findings against the fleet's ground truth (bench/fleet-facts.ts says what counts).
//   node --import tsx bench/fleet.ts [--hosts=2000] [--silent=0.1] [--rounds=3] [--concurrency=N] [--no-nmap]
// (--no-nmap: the gateway's figures only, for trying settings; no ratio.)
// Needs root, ip, nft and nmap; builds dist/ first (the store's worker thread runs from there).
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFleet, fleetUnavailable, type FleetHost } from '../test/support/fleet';
import { gatewayFound, nmapArgs, nmapFound, runNmap, tally, type Found, type Tally } from './fleet-facts';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const HOSTS = arg('hosts', 2000);
const SILENT = arg('silent', 0.1);
const ROUNDS = arg('rounds', 3);
const NMAP = !process.argv.includes('--no-nmap');
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const ROOT = join(__dirname, '..');

const why = fleetUnavailable() ?? (spawnSync('nmap', ['--version'], { stdio: 'ignore' }).error ? 'the benchmark needs nmap (Debian: nmap)' : null);
if (why) {
  console.error(`bench/fleet.ts cannot run here: ${why}.`);
  process.exit(2);
}
const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { encoding: 'utf8' });
if (tsc.status !== 0) throw new Error(`building dist/ failed:\n${tsc.stdout}${tsc.stderr}`);

// The product as it runs: compiled, from dist/.
const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');
const { createProbeScanner } = require('../dist/scanner/probe') as typeof import('../src/scanner/probe');
const { openFileLimit, concurrencyAllowedBy } = require('../dist/scanner/fd-budget') as typeof import('../src/scanner/fd-budget');

const CONCURRENCY = arg('concurrency', loadConfig({}).scanConcurrency);
const TERMINAL = new Set([2, 3, 4, 5, 6]);

interface GatewayRun {
  seconds: number;
  /** The ByHostIdMultiple call alone: every job stored before any scan can start. */
  scheduleSeconds: number;
  found: Map<string, Found>;
  /** Per silent host, the longer of its two connect timeouts ("no answer in N ms"). */
  timeoutsUsed: number[];
  slowComplete: number;
}

async function gatewayRun(hosts: readonly FleetHost[], ids: readonly string[]): Promise<GatewayRun> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
  const hostsFile = join(dir, 'hosts.json');
  writeFileSync(hostsFile, JSON.stringify(hosts.map((h, i) => ({ id: ids[i], name: h.name, ipAddress: h.address }))));
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'db'), HOSTS_FILE: hostsFile, JWT_SECRET: SECRET, LOG_LEVEL: 'warn', RATE_LIMIT_PER_ADDRESS: '0', RATE_LIMIT_PER_SUBJECT: '0',
    SCAN_CONCURRENCY: String(CONCURRENCY), MAX_HOST_IDS: String(Math.max(1000, hosts.length)),
  });
  const gateway = await startGateway(config, { logger: createLogger('warn') });
  const token = mintToken({ key: Buffer.from(SECRET), subject: 'bench', roles: ['Admin'], ttl: '1h' });
  try {
    const ended = new Set<string>();
    let allEnded!: () => void;
    const done = new Promise<void>((resolve) => (allEnded = resolve));
    const unsubscribe = gateway.events.subscribe((job) => {
      if (!ended.has(job.id) && job.scans.every((s) => TERMINAL.has(s.status))) {
        ended.add(job.id);
        if (ended.size === hosts.length) allEnded();
      }
    });
    const started = performance.now();
    const res = await fetch(`${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(ids),
    });
    if (res.status !== 200) throw new Error(`ByHostIdMultiple: ${res.status} ${await res.text()}`);
    const scheduleSeconds = (performance.now() - started) / 1000;
    await done;
    const seconds = (performance.now() - started) / 1000;
    unsubscribe();
    const jobIds = ((await res.json()) as { id: string }[]).map((j) => j.id);
    const scans = new Map((await gateway.store.jobs.getJobs(jobIds)).flatMap((j) => j.scans.map((s) => [s.hostId!, s] as const)));
    const found = new Map<string, Found>();
    const timeoutsUsed: number[] = [];
    let slowComplete = 0;
    hosts.forEach((h, i) => {
      const scan = scans.get(ids[i]!)!;
      found.set(h.address, gatewayFound(scan));
      if (h.delayMs && scan.status === 2) slowComplete++;
      const waits = [...scan.statusDescription.matchAll(/no answer in (\d+) ms/g)].map((m) => Number(m[1]));
      if (h.kind === 'silent' && waits.length > 0) timeoutsUsed.push(Math.max(...waits));
    });
    return { seconds, scheduleSeconds, found, timeoutsUsed, slowComplete };
  } finally {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh scanner alone (no store, no runner) over these hosts in fleet order, CONCURRENCY at once; seconds. */
async function scannerAlone(hosts: readonly FleetHost[]): Promise<number> {
  const scanner = createProbeScanner({ connectTimeout: loadConfig({}).scanConnectTimeout });
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, hosts.length) }, async () => {
    while (next < hosts.length) {
      const h = hosts[next++]!;
      const outcome = await scanner.scan({ name: h.name, dnsHostName: null, ipAddress: h.address, sshPort: null, winRmPort: null }, new AbortController().signal);
      if (outcome.ok !== !!h.expected) throw new Error(`scanner alone: ${h.name} (${h.kind}): ${outcome.description}`);
    }
  }));
  return (performance.now() - started) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const f = (n: number, digits = 2) => n.toFixed(digits);

(async () => {
  const limit = openFileLimit();
  console.log(`open-file limit ${limit ?? 'unknown'}: allows ${limit ? concurrencyAllowedBy(limit) : '?'} scans at once (2 sockets each, 1,024 kept); running ${CONCURRENCY}`);
  const fleet = await createFleet({ hosts: HOSTS, silent: SILENT });
  const hosts = fleet.hosts;
  const answering = hosts.filter((h) => h.kind === 'ssh' || h.kind === 'winrm');
  const silent = hosts.filter((h) => h.kind === 'silent').length;
  const ids = hosts.map(() => crypto.randomUUID());
  const dir = mkdtempSync(join(tmpdir(), 'fleet-nmap-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true })); // also when interrupted
  const targets = join(dir, 'targets.txt');
  writeFileSync(targets, hosts.map((h) => h.address).join('\n'));
  const args = nmapArgs(fleet.interface, targets, join(dir, 'nmap.xml'));
  console.log(`fleet ${fleet.namespace} via ${fleet.interface} (${fleet.block}): ${hosts.length} hosts, ${answering.length} answering, ${silent} silent, ${hosts.filter((h) => h.delayMs).length} slow; nmap ${args.join(' ')}`);

  const rounds: { gw: GatewayRun; nmap: { seconds: number; found: Map<string, Found> }; alone: number; aloneAll: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let gw: GatewayRun | undefined;
    let nm: { seconds: number; found: Map<string, Found> } | undefined;
    const runNmapPhase = () => {
      if (!NMAP) return void (nm = { seconds: NaN, found: new Map(hosts.map((h) => [h.address, { kind: 'unclear', os: null, version: null }])) });
      const r = runNmap(args, join(dir, 'nmap.xml'));
      nm = { seconds: r.seconds, found: new Map(hosts.map((h) => [h.address, nmapFound(r.hosts.get(h.address))])) };
    };
    // Interleaved: which tool goes first alternates, so drift in the machine's speed falls on both.
    if (i % 2 === 1) runNmapPhase();
    gw = await gatewayRun(hosts, ids);
    const alone = await scannerAlone(answering);
    const aloneAll = await scannerAlone(hosts);
    if (i % 2 === 0) runNmapPhase();
    rounds.push({ gw, nmap: nm!, alone, aloneAll });
    console.log(`round ${i + 1}: gateway ${f(gw.seconds)} s, nmap ${f(nm!.seconds)} s, schedule ${f(gw.scheduleSeconds)} s, scanner alone ${f(alone)} s (answering) ${f(aloneAll)} s (all), timeout used ${f(mean(gw.timeoutsUsed), 0)} ms; load average ${f(loadavg()[0]!, 1)}`);
  }
  await fleet.stop();

  const ratio = (r: (typeof rounds)[number]) => r.gw.seconds / r.nmap.seconds;
  const bound = (r: (typeof rounds)[number]) => 1.3 * Math.max(r.alone, (silent * mean(r.gw.timeoutsUsed)) / 1000 / CONCURRENCY);
  // What the gateway cannot beat: storing every job before the first scan starts, then the scanner's own work
  // over every host (silent and slow ones included) at the same concurrency.
  const proposed = (r: (typeof rounds)[number]) => 1.3 * (r.gw.scheduleSeconds + r.aloneAll);
  const each = (pick: (r: (typeof rounds)[number]) => number, digits = 2) => rounds.map((r) => f(pick(r), digits)).join(', ');
  const last = rounds[rounds.length - 1]!;
  const gwTally = tally(hosts, (h) => last.gw.found.get(h.address)!);
  const nmTally = tally(hosts, (h) => last.nmap.found.get(h.address)!);
  const both = answering.filter((h) => {
    const [g, n] = [last.gw.found.get(h.address)!, last.nmap.found.get(h.address)!];
    return g.os === n.os && g.version === n.version;
  }).length;
  const describe = (t: Tally) =>
    `kind right ${t.kindRight}/${hosts.length}; OS same ${t.osSame}, coarser ${t.osCoarser}, none ${t.osNone}, wrong ${t.osWrong}; release same ${t.versionSame}, none ${t.versionNone}, wrong ${t.versionWrong} (of ${answering.length})`;
  console.log(`\nFleet of ${hosts.length} (${f(SILENT * 100, 0)} % silent), gateway SCAN_CONCURRENCY ${CONCURRENCY}, ${availableParallelism()} cores; medians of ${ROUNDS} interleaved rounds`);
  const rows: [string, string][] = [
    ['gateway: ByHostIdMultiple → last job terminal', `${f(median(rounds.map((r) => r.gw.seconds)))} s (rounds: ${each((r) => r.gw.seconds)})`],
    ['nmap ' + args.slice(0, 6).join(' '), `${f(median(rounds.map((r) => r.nmap.seconds)))} s (rounds: ${each((r) => r.nmap.seconds)})`],
    ['ratio gateway ÷ nmap (target ≤ 0.1)', `${f(median(rounds.map(ratio)), 3)} (rounds: ${each(ratio, 3)})`],
    ['scanner alone over the answering hosts', `${f(median(rounds.map((r) => r.alone)))} s (${f(answering.length / median(rounds.map((r) => r.alone)), 0)} hosts/s)`],
    ['connect timeout used per silent host (mean)', `${each((r) => mean(r.gw.timeoutsUsed), 0)} ms`],
    ['bound 1.3 × max(answering ÷ rate, silent × timeout ÷ concurrency)', `${f(median(rounds.map(bound)))} s; gateway ÷ bound ${f(median(rounds.map((r) => r.gw.seconds / bound(r))), 2)} (rounds: ${each((r) => r.gw.seconds / bound(r))})`],
    ['proposed bound 1.3 × (schedule call + scanner alone over all hosts)', `${f(median(rounds.map(proposed)))} s; gateway ÷ bound ${f(median(rounds.map((r) => r.gw.seconds / proposed(r))), 2)} (rounds: ${each((r) => r.gw.seconds / proposed(r))})`],
    ['slow hosts Complete (gateway)', `${each((r) => r.gw.slowComplete, 0)} of ${hosts.filter((h) => h.delayMs).length}`],
    ['gateway against the truth (last round)', describe(gwTally)],
    ['nmap against the truth (last round)', describe(nmTally)],
    ['answering hosts where both state the same OS and release', `${both} of ${answering.length}`],
    ['hosts where the gateway states something false', gwTally.wrongHosts.length === 0 ? 'none' : gwTally.wrongHosts.slice(0, 5).join('; ')],
    ['hosts where nmap states something false', nmTally.wrongHosts.length === 0 ? 'none' : `${nmTally.wrongHosts.length}: ${nmTally.wrongHosts.slice(0, 3).join('; ')}`],
  ];
  for (const [name, value] of rows) console.log(`  ${name.padEnd(66)} ${value}`);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
