// One status change to N subscribers over graphql-ws, against a raw `ws` broadcast of the same bytes to
// the same number of sockets, in the same run; and the memory an idle subscription costs.
//   npm run build && node --import tsx --expose-gc bench/fanout.ts [--subscribers 10000] [--events 20] [--pg]
import 'reflect-metadata';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { forkHelper, tempDir, tempDatabase, fmt, report } from './lib';
import type { WsClientsMessage } from './ws-clients-child';

const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const SUBSCRIBERS = opt('--subscribers', 10_000);
const EVENTS = opt('--events', 20);
const USE_PG = args.includes('--pg');
const CHILDREN = 4;
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const QUERY = 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status statusDescription hostScanHostStatus { hostScanHostId hostId name os version status statusDescription failureReason } } }';

const gc = () => global.gc?.();
const heapUsed = () => (gc(), gc(), process.memoryUsage().heapUsed);

type Clients = { child: ChildProcess; first: Promise<WsClientsMessage>; n: number }[];
type Figures = { rate: number; p50: number; p99: number };

/** Start client processes holding `total` sockets; resolves when every one is ready. */
async function clients(total: number, argsFor: (n: number) => string[]): Promise<Clients> {
  const per = Math.ceil(total / CHILDREN);
  const children: Clients = [];
  for (let c = 0; c < CHILDREN; c++) {
    const n = Math.min(per, total - c * per);
    if (n <= 0) break;
    const h = forkHelper<WsClientsMessage>('ws-clients-child.ts', argsFor(n));
    children.push({ ...h, n });
  }
  await Promise.all(children.map((c) => c.first));
  return children;
}

/** Send `events` one after another (each once all sockets had the previous); deliveries/s and latencies. */
async function measure(children: Clients, total: number, sendEvent: (e: number) => void): Promise<Figures> {
  const latencies: number[] = [];
  let elapsed = 0;
  for (let e = 0; e < EVENTS; e++) {
    const waiting = children.map((c) => new Promise<{ times: number[] }>((resolve) => c.child.once('message', (m) => resolve(m as { times: number[] }))));
    const sentAt = performance.timeOrigin + performance.now();
    const t = performance.now();
    sendEvent(e);
    const reports = await Promise.all(waiting);
    elapsed += performance.now() - t;
    for (const r of reports) for (const at of r.times) latencies.push(at - sentAt);
  }
  latencies.sort((a, b) => a - b);
  return { rate: (total * EVENTS) / (elapsed / 1000), p50: latencies[Math.floor(latencies.length * 0.5)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! };
}

const close = (children: Clients) => children.forEach((c) => c.child.send('close'));

/** Heap the server holds per client while `open()`'s clients are connected. */
async function heapPer(n: number, open: () => Promise<Clients>, closeAfter: boolean): Promise<number> {
  const before = heapUsed();
  const children = await open();
  const per = (heapUsed() - before) / n;
  if (closeAfter) {
    close(children);
    await Promise.all(children.map((c) => new Promise((r) => c.child.once('exit', r))));
    await new Promise((r) => setTimeout(r, 500));
  }
  return per;
}

async function rawCeiling(bytes: string): Promise<Figures> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', r));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const children = await clients(SUBSCRIBERS, (n) => [url, String(n), 'raw']);
  const result = await measure(children, SUBSCRIBERS, () => {
    for (const ws of wss.clients) ws.send(bytes);
  });
  close(children);
  await new Promise<void>((r) => wss.close(() => r()));
  return result;
}

async function main(): Promise<void> {
  const data = tempDir('fanout-bench-');
  const db = USE_PG ? await tempDatabase() : null;
  const config = loadConfig({
    RATE_LIMIT_PER_ADDRESS: '0',
    RATE_LIMIT_PER_SUBJECT: '0',
    // Every client connects from one address, hundreds of sockets at once.
    WS_MAX_PENDING_PER_ADDRESS: '100000',
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(data.dir, 'db'), JWT_SECRET: SECRET, LOG_LEVEL: 'warn',
    // Every client here uses one token, so one subject holds all the sockets.
    WS_MAX_SOCKETS_PER_SUBJECT: String(SUBSCRIBERS * 2),
    ...(db ? { DATABASE_URL: db.url } : {}),
  });
  const gateway = await startGateway(config, { logger: createLogger('warn'), runner: false });
  const token = mintToken({ key: Buffer.from(SECRET), subject: 'bench', roles: ['App'], ttl: '1h' });
  const [host] = await gateway.store.hosts.list({ limit: 1 });
  let job = (await gateway.store.jobs.schedule([host!.id], { subject: 'bench', userName: 'bench', address: null })).jobs![0]!;

  const url = `${gateway.url.replace('http', 'ws')}/graphql`;
  const perSocket = await heapPer(SUBSCRIBERS, () => clients(SUBSCRIBERS, (n) => [url, String(n), 'init', token]), true);
  let children!: Clients;
  const perSocketAndSubscription = await heapPer(SUBSCRIBERS, async () => {
    children = await clients(SUBSCRIBERS, (n) => [url, String(n), 'graphql', token, QUERY, JSON.stringify({ ids: [job.id] })]);
    return children;
  }, false);

  // Each event is a new state of the watched job, published as the store's transitions publish them.
  const ours = await measure(children, SUBSCRIBERS, (e) => {
    job = { ...job, revision: job.revision + 1, modifiedAt: new Date(), scans: job.scans.map((s) => ({ ...s, statusDescription: `Running (${e})` })) };
    gateway.events.publish([job]);
  });
  close(children);

  // The ceiling sends the bytes one of our subscribers receives for one event.
  const sample = `{"id":"s0","type":"next","payload":${JSON.stringify({ data: { hostScanJobStatus: { id: job.id, status: 'Queued', statusDescription: 'Queued.', hostScanHostStatus: job.scans.map((s) => ({ hostScanHostId: s.id, hostId: s.hostId, name: s.name, os: s.os, version: s.version, status: 'Queued', statusDescription: s.statusDescription, failureReason: 'NoError' })) } } })}}`;
  await gateway.stop();
  await db?.drop();
  data.remove();
  const raw = await rawCeiling(sample);

  report(`Fan-out, ${USE_PG ? 'PostgreSQL' : 'embedded store'}: one job's status changes ${EVENTS} times, ${fmt(SUBSCRIBERS)} subscribers (${CHILDREN} client processes)`, [
    ['graphql-ws hostScanJobStatus deliveries', `${fmt(ours.rate)} /s (latency p50 ${fmt(ours.p50, 1)} ms, p99 ${fmt(ours.p99, 1)} ms)`],
    ['  ceiling: raw ws broadcast of the same bytes', `${fmt(raw.rate)} /s (latency p50 ${fmt(raw.p50, 1)} ms, p99 ${fmt(raw.p99, 1)} ms)`],
    ['  ratio (target ≥ 0.6)', fmt(ours.rate / raw.rate, 2)],
    ['memory per idle subscription (heap)', `${fmt((perSocketAndSubscription - perSocket) / 1024, 1)} KiB (target ≤ 10 KiB)${global.gc ? '' : ' — run with --expose-gc for a stable figure'}`],
    ['  memory per idle socket, acknowledged, no subscription', `${fmt(perSocket / 1024, 1)} KiB`],
    ['  socket and one subscription together', `${fmt(perSocketAndSubscription / 1024, 1)} KiB`],
  ]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
