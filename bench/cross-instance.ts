// Cross-instance latency: how long after A answers a cancel B's subscriber sees the job Cancelled, for each
// way instances hear each other's changes. Two gateway processes (dist/main.js) on one fresh PostgreSQL
// database per path: NOTIFY direct; PgBouncer (transaction pooling) with DATABASE_LISTEN_URL; PgBouncer
// deaf (no listen URL: the fallback poll every EVENTS_POLL_MS=1000); NATS; Redis (brokers of the run's own on
// free loopback ports). Jobs on silent loopback hosts are scheduled on A in small rounds; only those A leases
// are measured, so each Cancelled can only reach B across instances. Cancels go one at a time; a sample is
// from A's 202 to the state on B's graphql-ws subscription. Ceiling, in the same run: the bare hop of each path, one at a time: pg NOTIFY →
// LISTEN on direct connections, NATS publish → subscribe, Redis PUBLISH → SUBSCRIBE.
//   npm run build && node --import tsx bench/cross-instance.ts [--n=50]
import { createClient } from 'graphql-ws';
import Redis from 'ioredis';
import { connect as natsConnect, StringCodec } from 'nats';
import os from 'node:os';
import pg from 'pg';
import WebSocket from 'ws';
import { BROKERS } from '../test/support/brokers';
import { spawnGateway, type ChildGateway } from '../test/support/child';
import { call } from '../test/support/http';
import { closedPort, silentListener, type TestListener } from '../test/support/listeners';
import { pgbouncerAvailable, startPgbouncer } from '../test/support/pgbouncer';
import { adminToken, appToken } from '../test/support/tokens';
import { fmt, report, tempDatabase } from './lib';

const flag = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const N = flag('n', 50);
// Unmeasured cancels first (connections, JIT, the subscription's first deliveries).
const WARM = 5;
// Jobs scheduled at once; about half are leased by A.
const ROUND = 6;
const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const token = adminToken();

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const ms = (n: number) => `${fmt(n, n < 10 ? 2 : 1)} ms`;
const loadAverage = () => os.loadavg().map((l) => fmt(l, 2)).join(', ');

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Path {
  name: string;
  ceiling: 'notify' | 'nats' | 'redis';
  /**
   * A random pause of up to this before each cancel: a cancel sent right after the previous one arrived
   * would fall just after a poll each time, and measure the whole period instead of where a change falls.
   */
  jitterMs?: number;
  /** The two gateways' variables for database `db` (a name and a direct URL). */
  env(db: { name: string; url: string }): Promise<Record<string, string>>;
}

const TERMINAL = new Set(['Complete', 'Failed', 'Cancelled', 'CompletedWithErrors', 'CompletedNotRun']);

/**
 * Cancel latencies on one path: ms from A's 202 to Cancelled on B's subscription, one cancel at a time.
 * In rounds of ROUND jobs scheduled on A while both run; only those A leased are measured (their Cancelled
 * can reach B only across instances); the rest are cancelled unmeasured. Rounds are short because a silent
 * host's probe gives up after 10 s (its read timeout), which a slow path's round must stay well within.
 */
async function measure(path: Path): Promise<{ samples: number[]; skipped: number }> {
  const db = await tempDatabase();
  if (!db) throw new Error('no PostgreSQL at TEST_POSTGRES_URL');
  const cleanup: (() => Promise<unknown>)[] = [() => db.drop()];
  try {
    const env = {
      ...(await path.env({ name: new URL(db.url).pathname.slice(1), url: db.url })),
      SCAN_CONCURRENCY: String(ROUND * 4), SCAN_TIMEOUT_MS: '600000',
    };
    const gateways: ChildGateway[] = [];
    cleanup.push(() => Promise.all(gateways.map((g) => (g.child.kill('SIGKILL'), g.exited))));
    const a = await spawnGateway(env, 60_000);
    gateways.push(a);
    const b = await spawnGateway(env, 60_000);
    gateways.push(b);
    const direct = new pg.Client({ connectionString: db.url });
    await direct.connect();
    cleanup.push(() => direct.end());
    const listeners: TestListener[] = await Promise.all(Array.from({ length: ROUND }, () => silentListener()));
    cleanup.push(() => Promise.all(listeners.map((l) => l.close())));
    const closed = await closedPort();
    const client = createClient({ url: `${b.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { token: appToken() }, retryAttempts: 0 });
    cleanup.push(async () => client.dispose());

    const samples: number[] = [];
    let skipped = 0;
    let measured = 0;
    for (let round = 0; samples.length < N; round++) {
      const upsert = await call(`${a.url}/graphql`, {
        token,
        body: {
          query: 'mutation($h: [HostInput!]!) { upsertHosts(hosts: $h) { id } }',
          variables: { h: listeners.map((l, i) => ({ name: `cross-${round}-${i}`, ipAddress: '127.0.0.1', sshPort: l.port, winRmPort: closed })) },
        },
      });
      if (!upsert.json?.data) throw new Error(`upsertHosts failed: ${upsert.text}`);
      const scheduled = await call(`${a.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: upsert.json.data.upsertHosts.map((h: { id: string }) => h.id) });
      if (scheduled.status !== 200) throw new Error(`schedule failed: ${scheduled.status} ${scheduled.text}`);
      const jobIds: string[] = scheduled.json.map((j: { id: string }) => j.id);

      // B's subscription first (it tells each job's current state at once), then every scan Running.
      const last = new Map<string, { status: string; at: number }>();
      const stop = client.subscribe({ query: 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status } }', variables: { ids: jobIds } }, {
        next: (r: any) => {
          const { id, status } = r.data.hostScanJobStatus;
          if (!TERMINAL.has(last.get(id)?.status ?? '')) last.set(id, { status, at: performance.now() });
        },
        error: (err) => console.error('subscription failed', err),
        complete: () => {},
      });
      await until('B to tell each job', () => last.size === jobIds.length);
      let owners: { job_id: string; lease_owner: string | null }[] = [];
      await until('every scan Running', async () => {
        owners = (await direct.query('SELECT job_id, lease_owner FROM host_scans WHERE job_id = ANY($1::uuid[]) AND status = 1', [jobIds])).rows;
        return owners.length === jobIds.length;
      });
      const byA = owners.filter((o) => o.lease_owner?.startsWith(`${a.child.pid}-`)).map((o) => o.job_id);

      for (const id of byA) {
        if (path.jitterMs) await new Promise((r) => setTimeout(r, Math.random() * path.jitterMs!));
        const res = await fetch(`${a.url}/api/v1/HostScanJob/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
        await res.text();
        const replied = performance.now();
        if (res.status !== 202) throw new Error(`cancel answered ${res.status}`);
        await until(`job ${id} to end on B`, () => TERMINAL.has(last.get(id)!.status), 30_000);
        // A probe that gave up first (its 10 s read timeout) ended the job otherwise: not a sample.
        if (last.get(id)!.status !== 'Cancelled') skipped++;
        else if (measured++ >= WARM && samples.length < N) samples.push(last.get(id)!.at - replied);
      }
      for (const id of jobIds.filter((j) => !byA.includes(j))) await call(`${a.url}/api/v1/HostScanJob/${id}`, { method: 'DELETE', token });
      stop();
    }
    return { samples, skipped };
  } finally {
    for (const c of cleanup.reverse()) await c().catch((err) => console.error('cleanup failed', err));
  }
}

/** The bare hop, one message at a time: ms from just before the send to its arrival. */
async function hops(send: (i: number) => Promise<unknown>, arrive: (onMessage: (i: number) => void) => Promise<void>): Promise<number[]> {
  const sentAt = new Map<number, number>();
  const times: number[] = [];
  let waiting: (() => void) | null = null;
  await arrive((i) => {
    times[i] = performance.now() - sentAt.get(i)!;
    waiting?.();
  });
  for (let i = 0; i < N + WARM; i++) {
    const arrived = new Promise<void>((r) => (waiting = r));
    sentAt.set(i, performance.now());
    await send(i);
    await arrived;
  }
  return times.slice(WARM);
}

async function notifyCeiling(): Promise<number[]> {
  const listener = new pg.Client({ connectionString: ADMIN_URL });
  const sender = new pg.Client({ connectionString: ADMIN_URL });
  await Promise.all([listener.connect(), sender.connect()]);
  try {
    return await hops(
      (i) => sender.query('SELECT pg_notify($1, $2)', ['bench_cross', String(i)]),
      async (on) => {
        listener.on('notification', (n) => on(Number(n.payload)));
        await listener.query('LISTEN bench_cross');
      },
    );
  } finally {
    await Promise.all([listener.end(), sender.end()]);
  }
}

async function natsCeiling(url: string): Promise<number[]> {
  const codec = StringCodec();
  const [pub, sub] = await Promise.all([natsConnect({ servers: url }), natsConnect({ servers: url })]);
  try {
    return await hops(
      async (i) => pub.publish('bench.cross', codec.encode(String(i))),
      async (on) => {
        sub.subscribe('bench.cross', { callback: (_err, msg) => on(Number(codec.decode(msg.data))) });
        await sub.flush();
      },
    );
  } finally {
    await Promise.all([pub.close(), sub.close()]);
  }
}

async function redisCeiling(url: string): Promise<number[]> {
  const pub = new Redis(url);
  const sub = new Redis(url);
  try {
    return await hops(
      (i) => pub.publish('bench.cross', String(i)),
      async (on) => {
        sub.on('message', (_channel: string, message: string) => on(Number(message)));
        await sub.subscribe('bench.cross');
      },
    );
  } finally {
    pub.disconnect();
    sub.disconnect();
  }
}

async function main() {
  if (!pgbouncerAvailable()) throw new Error('pgbouncer is not installed');
  const [natsBroker, redisBroker] = BROKERS;
  if (!natsBroker!.available() || !redisBroker!.available()) throw new Error('nats-server or redis-server is not installed');
  const bouncer = await startPgbouncer(ADMIN_URL);
  const nats = await natsBroker!.start();
  const redis = await redisBroker!.start();
  console.log(`cross-instance: ${N} cancels per path (${WARM} unmeasured first); load average ${loadAverage()}`);
  try {
    const paths: Path[] = [
      { name: 'NOTIFY, direct connections', ceiling: 'notify', env: async (db) => ({ DATABASE_URL: db.url }) },
      { name: 'PgBouncer + DATABASE_LISTEN_URL', ceiling: 'notify', env: async (db) => ({ DATABASE_URL: bouncer.through(db.name), DATABASE_PREPARED_STATEMENTS: 'false', DATABASE_LISTEN_URL: db.url }) },
      { name: 'PgBouncer, deaf (EVENTS_POLL_MS=1000)', ceiling: 'notify', env: async (db) => ({ DATABASE_URL: bouncer.through(db.name), DATABASE_PREPARED_STATEMENTS: 'false', EVENTS_POLL_MS: '1000' }), jitterMs: 1000 },
      { name: 'NATS (EVENTS_URL)', ceiling: 'nats', env: async (db) => ({ DATABASE_URL: db.url, EVENTS_URL: nats.url }) },
      { name: 'Redis (EVENTS_URL)', ceiling: 'redis', env: async (db) => ({ DATABASE_URL: db.url, EVENTS_URL: redis.url }) },
    ];
    const ceilings = {
      notify: await notifyCeiling(),
      nats: await natsCeiling(nats.url),
      redis: await redisCeiling(redis.url),
    };
    const ceilingNames = { notify: 'pg NOTIFY → LISTEN', nats: 'NATS publish → subscribe', redis: 'Redis PUBLISH → SUBSCRIBE' };
    report('ceiling: the bare hop, one at a time (p50 / p99)', Object.entries(ceilings).map(([k, xs]) => [ceilingNames[k as keyof typeof ceilingNames], `${ms(quantile(xs, 0.5))} / ${ms(quantile(xs, 0.99))}`]));
    const rows: [string, string][] = [];
    // --only=<part of a path's name>: measure that path alone (a rerun after a failure).
    const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
    for (const path of paths.filter((p) => !only || p.name.includes(only))) {
      const { samples: xs, skipped } = await measure(path);
      const c = ceilings[path.ceiling];
      const p50 = quantile(xs, 0.5);
      const p99 = quantile(xs, 0.99);
      rows.push([path.name, `p50 ${ms(p50)}, p99 ${ms(p99)}; ÷ ${path.ceiling} hop: ${fmt(p50 / quantile(c, 0.5), 1)}× p50, ${fmt(p99 / quantile(c, 0.99), 1)}× p99`]);
      console.log(`  ${path.name}: done, ${xs.length} samples${skipped ? `, ${skipped} jobs ended before their cancel (not counted)` : ''} (load average ${loadAverage()})`);
    }
    report("A's cancel reply → Cancelled on B's subscription", rows);
    console.log(`\nload average at the end: ${loadAverage()}`);
  } finally {
    await Promise.all([bouncer.stop(), nats.stop(), redis.stop()]);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
