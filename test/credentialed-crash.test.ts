import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store';
import { gatewayBackends } from './support/backends';
import { spawnGateway, type ChildGateway } from './support/child';
import { freshDataDir } from './support/gateway';
import { gql } from './support/graphql';
import { inventorySshdAvailable, startInventorySshd, type InventorySshd } from './support/inventory-sshd';
import { closedPort } from './support/listeners';
import { sqlOf } from './support/sql';
import { adminToken } from './support/tokens';

/**
 * A proxy in front of sshd that passes the first connection (the banner probe) and holds the second (the
 * logged-in session) still once the server has sent `holdAfter` bytes: past the key exchange and the
 * login, in the middle of the inventory commands' output.
 */
async function holdingProxy(target: number, holdAfter: number) {
  const sockets = new Set<Socket>();
  let connections = 0;
  let held = false;
  const server = createServer((client) => {
    const n = ++connections;
    const upstream = connect({ host: '127.0.0.1', port: target });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    let sent = 0;
    upstream.on('data', (chunk: Buffer) => {
      if (n === 2 && sent + chunk.length > holdAfter) {
        held = true;
        upstream.pause();
        return;
      }
      sent += chunk.length;
      client.write(chunk);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get held() {
      return held;
    },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

for (const backend of gatewayBackends) {
  describe.skipIf(!backend.available || !inventorySshdAvailable())(`kill -9 during a credentialed scan (${backend.name})`, () => {
    let sshd: InventorySshd;
    let proxy: Awaited<ReturnType<typeof holdingProxy>>;
    let drop: (() => Promise<void>) | undefined;
    // Both gateways seal and open with the development key in DATA_DIR, on either store.
    const dataDir = freshDataDir();
    const children: ChildGateway[] = [];
    afterAll(async () => {
      for (const c of children) c.child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
      await proxy?.close();
      await sshd?.close();
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
      await drop?.();
    });

    it('is scanned again after the restart, and its snapshot is written once, whole', async () => {
      sshd = await startInventorySshd();
      proxy = await holdingProxy(sshd.port, 8_000);
      const b = await backend.env();
      drop = b.drop;
      const env: Record<string, string> = { ...b.env, DATA_DIR: dataDir, SCAN_LEASE_MS: '1000', SCAN_RETRY_BACKOFF_MS: '100', SCAN_TIMEOUT_MS: '20000' };
      const first = await spawnGateway(env);
      children.push(first);
      const ok = async (url: string, query: string, variables?: Record<string, unknown>) => {
        const res = await gql(url, adminToken(), query, variables);
        expect(res.body.errors).toBeUndefined();
        return res.body.data;
      };
      await ok(first.url, 'mutation($i: CreateCredentialInput!) { createCredential(input: $i) { id } }', {
        i: { name: 'crash', kind: 'SshPassword', username: 'scanner', password: sshd.scanner.password },
      });
      const { upsertHosts } = await ok(first.url, 'mutation($h: [HostInput!]!) { upsertHosts(hosts: $h) { id } }', {
        h: [{ name: 'held', ipAddress: '127.0.0.1', sshPort: proxy.port, winRmPort: await closedPort(), credentialName: 'crash' }],
      });
      const hostId: string = upsertHosts[0].id;
      const { scheduleHostScans } = await ok(first.url, 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }', { ids: [hostId] });
      const jobId: string = scheduleHostScans[0].id;

      const deadline = Date.now() + 20_000;
      while (!proxy.held) {
        expect(Date.now(), 'waiting for the logged-in session to be held mid-inventory').toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 20));
      }
      const { hostScanJob } = await ok(first.url, 'query($id: ID!) { hostScanJob(id: $id) { status } }', { id: jobId });
      expect(hostScanJob.status).toBe('Running');
      first.child.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      // The proxy holds only its second connection: the retry's connections pass.
      const second = await spawnGateway(env);
      children.push(second);
      let status = '';
      while (!['Complete', 'CompletedWithErrors', 'Failed'].includes(status)) {
        expect(Date.now(), 'waiting for the retried scan to end').toBeLessThan(deadline + 30_000);
        await new Promise((r) => setTimeout(r, 100));
        status = (await ok(second.url, 'query($id: ID!) { hostScanJob(id: $id) { status } }', { id: jobId })).hostScanJob.status;
      }
      // As the unprivileged scanner account some parts are unreadable: completed, with errors said.
      expect(status).toBe('CompletedWithErrors');
      second.child.kill('SIGTERM');
      await second.exited;

      const store = await openStore({ databaseUrl: env.DATABASE_URL ?? null, dataDir });
      try {
        const sql = sqlOf(store);
        const [scan] = await sql.query<{ attempts: number }>('SELECT attempts FROM host_scans WHERE job_id = $1', [jobId]);
        expect(scan!.attempts).toBe(2);
        const snapshots = await sql.query<{ id: string; users: number }>('SELECT id, user_count AS users FROM host_snapshots WHERE host_id = $1', [hostId]);
        expect(snapshots).toHaveLength(1);
        expect(snapshots[0]!.users).toBe(21);
        expect(await store.inventory.users([snapshots[0]!.id])).toHaveLength(21);
      } finally {
        await store.stop();
      }
    }, 90_000);
  });
}
