import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway, type ChildGateway } from './support/child';
import { collect, wsClient } from './support/graphql';
import { call } from './support/http';
import { closedPort } from './support/listeners';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { adminToken, appToken } from './support/tokens';

const HOSTS = 200;
const token = adminToken();

/** One SSH-speaking loopback listener per host, answering after a delay and tracking overlapping scans. */
async function countingListener(delayMs: number) {
  let active = 0;
  const stats = { connections: 0, maxConcurrent: 0 };
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    stats.connections++;
    stats.maxConcurrent = Math.max(stats.maxConcurrent, ++active);
    socket.on('error', () => {});
    socket.resume();
    // A scan is over for this host once it has its banner: the key exchange that follows at first contact
    // goes on on this same connection until the hang-up, whose close may be seen here after the next scan.
    setTimeout(() => { active--; socket.end('SSH-2.0-OpenSSH_8.7\r\n'); }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stats,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(r);
    }),
  };
}

describe.skipIf(!postgresAdminUrl())('several gateways on one PostgreSQL', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('share the work, survive kill -9 of one, and tell subscribers on the other every terminal state', async () => {
    const db = await createDatabase();
    cleanup.push(() => db.drop());
    const closed = await closedPort();
    const listeners = await Promise.all(Array.from({ length: HOSTS }, () => countingListener(1_000)));
    cleanup.push(() => Promise.all(listeners.map((l) => l.close())));
    const env = {
      DATABASE_URL: db.url, SCAN_CONCURRENCY: '25', SCAN_LEASE_MS: '1500', SCAN_RETRY_BACKOFF_MS: '100', SCAN_TIMEOUT_MS: '10000',
    };
    const children: ChildGateway[] = [];
    const [a, b] = await Promise.all([spawnGateway(env), spawnGateway(env)]);
    children.push(a!, b!);
    cleanup.push(() => Promise.all(children.map((c) => { c.child.kill('SIGKILL'); return c.exited; })));

    const upsert = await call(`${a!.url}/graphql`, {
      token,
      body: {
        query: 'mutation($hosts: [HostInput!]!) { upsertHosts(hosts: $hosts) { id } }',
        variables: { hosts: listeners.map((l, i) => ({ name: `scale-${i}`, ipAddress: '127.0.0.1', sshPort: l.port, winRmPort: closed })) },
      },
    });
    const hostIds: string[] = upsert.json.data.upsertHosts.map((h: { id: string }) => h.id);
    const scheduled = await call(`${a!.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: hostIds });
    expect(scheduled.status).toBe(200);
    const jobIds: string[] = scheduled.json.map((j: { id: string }) => j.id);

    // B reads (and caches) a job before the work is done; it must not serve that state later.
    expect((await call(`${b!.url}/api/v1/HostScanJob/${jobIds[0]}`, { token })).status).toBe(200);
    const client = wsClient(b!.url, { token: appToken() });
    cleanup.push(async () => client.dispose());
    const watched = collect(client, 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status } }', { ids: jobIds });

    // Kill A while it holds leases on scans in flight (and B works too).
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    cleanup.push(() => admin.end());
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { rows } = await admin.query<{ a: number; b: number }>(
        `SELECT count(*) FILTER (WHERE lease_owner LIKE $1)::int AS a, count(*) FILTER (WHERE lease_owner LIKE $2)::int AS b
         FROM host_scans WHERE status = 1`,
        [`${a!.child.pid}-%`, `${b!.child.pid}-%`],
      );
      if (rows[0]!.a >= 5 && rows[0]!.b >= 1) break;
      expect(Date.now(), 'waiting for A to hold 5 running leases and B 1').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 20));
    }
    a!.child.kill('SIGKILL');
    expect(await a!.exited).toBe('SIGKILL');

    const results = await watched.done;
    const last = new Map<string, string>();
    for (const r of results) last.set(r.data.hostScanJobStatus.id, r.data.hostScanJobStatus.status);
    expect([...last.keys()].sort()).toEqual([...jobIds].sort());
    expect([...last.values()].every((s) => s === 'Complete')).toBe(true);

    const entity = (await call(`${b!.url}/api/v1/HostScanJob/${jobIds[0]}`, { token })).json;
    expect(entity.hostScanJobHostJoin[0].actionQueue.status).toBe(2);
    const final = (await call(`${b!.url}/api/v1/HostScanJob?take=1000`, { token })).json as { id: string; status: number }[];
    expect(final.filter((j) => jobIds.includes(j.id)).every((j) => j.status === 2)).toBe(true);
    for (const l of listeners) {
      expect(l.stats.maxConcurrent).toBe(1);
      // Each scan connects once (the host key at first contact is read on the banner's connection); scanned at most twice.
      expect(l.stats.connections).toBeGreaterThanOrEqual(1);
      expect(l.stats.connections).toBeLessThanOrEqual(2);
    }
    // A died with scans in flight: those hosts were scanned again, by B.
    expect(listeners.some((l) => l.stats.connections > 1)).toBe(true);
  }, 120_000);
});
