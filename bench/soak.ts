// `npm run soak`: mixed REST and GraphQL traffic with 1,000 open subscriptions for 10 minutes (or
// --minutes N); samples memory, open handles and event-loop delay, and counts errors.
//   npm run build && node --import tsx --expose-gc bench/soak.ts [--minutes 10]
import 'reflect-metadata';
import { createWriteStream, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { forkHelper, tempDir, fmt, report } from './lib';
import type { SoakLoadJob, SoakLoadResult } from './soak-load-child';
import type { WsClientsMessage } from './ws-clients-child';

const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { sqlOf } = require('../dist/store') as typeof import('../src/store');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');

const args = process.argv.slice(2);
const MINUTES = args.includes('--minutes') ? Number(args[args.indexOf('--minutes') + 1]) : 10;
const SUBSCRIPTIONS = 1000;
const RATE = 150;
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const WATCH = 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status statusDescription hostScanHostStatus { name status os } } }';

async function main(): Promise<void> {
  const data = tempDir('soak-');
  const listeners = forkHelper<{ ports: number[] }>('listeners-child.ts', ['50']);
  const { ports } = await listeners.first;
  // Silent listeners: scans of them run for the whole soak, so subscriptions to them stay open and idle.
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const hosts = [
    ...ports.map((port, i) => ({ name: `soak-${i}`, ipAddress: '127.0.0.1', sshPort: port, winRmPort: 1 })),
    ...Array.from({ length: 150 }, (_, i) => ({ name: `soak-closed-${i}`, ipAddress: '127.0.0.1', sshPort: 1, winRmPort: 1 })),
    ...Array.from({ length: 10 }, (_, i) => ({ name: `soak-silent-${i}`, ipAddress: '127.0.0.1', sshPort: silentPort, winRmPort: 1 })),
  ];
  writeFileSync(join(data.dir, 'hosts.json'), JSON.stringify(hosts));
  const config = loadConfig({
    RATE_LIMIT_PER_ADDRESS: '0',
    RATE_LIMIT_PER_SUBJECT: '0',
    // Every client connects from one address, hundreds of sockets at once.
    WS_MAX_PENDING_PER_ADDRESS: '100000',
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(data.dir, 'db'), HOSTS_FILE: join(data.dir, 'hosts.json'), JWT_SECRET: SECRET,
    LOG_LEVEL: process.env.SOAK_LOG ?? 'warn', SCAN_TIMEOUT_MS: String((MINUTES + 2) * 60_000), WS_MAX_SOCKETS_PER_SUBJECT: '2000',
  });
  const gateway = await startGateway(config, { logger: createLogger(process.env.SOAK_LOG ?? 'warn', process.env.SOAK_LOG ? createWriteStream('/tmp/soak-log.jsonl') : undefined) });
  const token = mintToken({ key: Buffer.from(SECRET), subject: 'soak', roles: ['Admin'], ttl: '2h' });
  const all = (await gateway.store.hosts.list({ limit: 1000 })).filter((h) => h.name.startsWith('soak-'));
  const busy = all.filter((h) => !h.name.startsWith('soak-silent-')).map((h) => h.id);
  const parkedHosts = all.filter((h) => h.name.startsWith('soak-silent-')).map((h) => h.id);
  const parked = (await gateway.store.jobs.schedule(parkedHosts, { subject: 'soak', userName: 'soak', address: null })).jobs!.map((j) => j.id);
  gateway.runner.wake();

  const url = `${gateway.url.replace('http', 'ws')}/graphql`;
  const subscribers: ReturnType<typeof forkHelper<WsClientsMessage>>[] = [];
  for (let c = 0; c < 4; c++) {
    const h = forkHelper<WsClientsMessage>('ws-clients-child.ts', [url, String(SUBSCRIPTIONS / 4), 'graphql', token, WATCH, JSON.stringify({ ids: [parked[c % parked.length]] })]);
    subscribers.push(h);
  }
  await Promise.all(subscribers.map((s) => s.first));
  let subscriberFailures = 0;
  for (const s of subscribers) s.child.on('exit', (code) => (code ? subscriberFailures++ : 0));

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const samples: { minute: number; rss: number; heap: number; handles: number; loopP99: number; sockets: number }[] = [];
  const sample = (minute: number) => {
    global.gc?.();
    const m = process.memoryUsage();
    samples.push({ minute, rss: m.rss, heap: m.heapUsed, handles: process.getActiveResourcesInfo().length, loopP99: loop.percentile(99) / 1e6, sockets: gateway.sockets.openSockets });
    loop.reset();
  };
  sample(0);
  const load = forkHelper('soak-load-child.ts');
  const finished = new Promise<SoakLoadResult>((resolve) => load.child.once('message', (m) => resolve(m as SoakLoadResult)));
  const job: SoakLoadJob = { url: gateway.url, token, hostIds: busy, jobIds: parked, scannedHostIds: parkedHosts, seconds: MINUTES * 60, rate: RATE };
  load.child.send(job);
  const timer = setInterval(() => sample(samples.length / 6), 10_000);
  const traffic = await finished;
  clearInterval(timer);
  sample(MINUTES);

  for (const s of subscribers) s.child.send('close');
  listeners.child.disconnect();
  load.child.kill();
  const jobs = (await sqlOf(gateway.store).query<{ n: number }>('SELECT count(*)::int AS n FROM host_scan_jobs'))[0]!.n;
  await gateway.stop();
  silent.close();
  data.remove();

  const afterWarmup = samples.find((s) => s.minute >= 1) ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  const codes = Object.entries(traffic.statusCodes).map(([code, { count }]) => `${code}: ${count}`).join(', ');
  report(`Soak: ${MINUTES} min of mixed REST and GraphQL at ${RATE} req/s, ${SUBSCRIPTIONS} open subscriptions, scans running`, [
    ['requests', `${fmt(traffic.requests)} (${codes})`],
    ['transport errors and timeouts', String(traffic.errors)],
    ['subscriber processes that failed', String(subscriberFailures)],
    ['jobs in the store at the end', fmt(jobs)],
    ['heap after 1 min → end', `${fmt(afterWarmup.heap / 2 ** 20, 1)} → ${fmt(last.heap / 2 ** 20, 1)} MiB`],
    ['rss after 1 min → end', `${fmt(afterWarmup.rss / 2 ** 20, 1)} → ${fmt(last.rss / 2 ** 20, 1)} MiB`],
    ['active handles after 1 min → end', `${afterWarmup.handles} → ${last.handles}`],
    ['event-loop delay p99, worst 10 s', `${fmt(Math.max(...samples.map((s) => s.loopP99)), 1)} ms`],
  ]);
  console.log('\n  minute   heap MiB   rss MiB   handles   sockets   loop p99 ms');
  for (const s of samples.filter((_, i) => i % 6 === 0 || i === samples.length - 1)) {
    console.log(`  ${fmt(s.minute, 1).padStart(6)}   ${fmt(s.heap / 2 ** 20, 1).padStart(8)}   ${fmt(s.rss / 2 ** 20, 1).padStart(7)}   ${String(s.handles).padStart(7)}   ${String(s.sockets).padStart(7)}   ${fmt(s.loopP99, 1).padStart(11)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
