import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openStore, type Store } from '../src/store';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { spawnGateway } from './support/child';
import { freshDataDir } from './support/gateway';
import { hostsFile } from './support/hosts';
import { call } from './support/http';
import { waitForJobState } from './support/jobs';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { adminToken } from './support/tokens';
import { sqlOf } from './support/sql';

const token = adminToken();
const listeners: TestListener[] = [];
afterAll(() => Promise.all(listeners.map((l) => l.close())));

interface Backend {
  name: string;
  available: boolean;
  /** Environment selecting the store, and how to open it afterwards to check what is left. */
  prepare(): Promise<{ env: Record<string, string>; open(): Promise<Store>; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'embedded store',
    available: true,
    async prepare() {
      const dataDir = freshDataDir();
      return {
        env: { DATA_DIR: dataDir },
        open: () => openStore({ databaseUrl: null, dataDir }),
        cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl() !== null,
    async prepare() {
      const db = await createDatabase();
      return { env: { DATABASE_URL: db.url }, open: () => openStore({ databaseUrl: db.url, dataDir: '' }), cleanup: () => db.drop() };
    },
  },
];

/** Every host scan of the job has left the queue (ActionStatus 0 is Queued). */
const started = (job: { hostScanJobHostJoin: { actionQueue: { status: number } }[] }) =>
  job.hostScanJobHostJoin.length > 0 && job.hostScanJobHostJoin.every((j) => j.actionQueue.status !== 0);

describe.each(backends.filter((b) => b.available))('SIGTERM with the $name', (backend) => {
  it('drains: 503s at once, WebSockets 1001, scans in flight finish, exit 0; a second signal does no harm', async () => {
    const slow = await sshListener('SSH-2.0-OpenSSH_8.0', { delayMs: 1_500 });
    listeners.push(slow);
    const closed = await closedPort();
    const hosts = Array.from({ length: 4 }, (_, i) => ({ id: randomUUID(), name: `drain-${i}`, ipAddress: '127.0.0.1', sshPort: slow.port, winRmPort: closed }));
    const store = await backend.prepare();
    const gw = await spawnGateway({ ...store.env, HOSTS_FILE: hostsFile(hosts), SHUTDOWN_DRAIN_MS: '10000' });

    const scheduled = await call(`${gw.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: hosts.slice(0, 3).map((h) => h.id) });
    expect(scheduled.status).toBe(200);
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { token } }));
    await new Promise((r) => ws.once('message', r));
    const wsClosed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    // In flight, not merely queued: a drain finishes scans it runs, and claims nothing more.
    for (const job of scheduled.json) await waitForJobState(gw.url, job.id, token, started);

    gw.child.kill('SIGTERM');
    expect(await wsClosed).toBe(1001);
    const ready = await call(`${gw.url}/health/ready`);
    expect(ready.status).toBe(503);
    const refused = await call(`${gw.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: [hosts[3]!.id] });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    gw.child.kill('SIGINT');
    expect(await gw.exited).toBe(0);
    // Once, for the SIGINT: nothing else (Apollo's own signal handling) re-sends a signal.
    expect(gw.lines.filter((l) => l.includes('already shutting down'))).toHaveLength(1);

    const check = await store.open();
    const rows = await sqlOf(check).query<{ status: number; host_id: string }>('SELECT status, host_id FROM host_scans');
    await check.stop();
    await store.cleanup();
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.status === 2)).toBe(true);
  }, 60_000);

  it('hands back leases of scans that outlast the drain bound', async () => {
    const silent = await sshListener('SSH-2.0-OpenSSH_8.0', { delayMs: 60_000 });
    listeners.push(silent);
    const closed = await closedPort();
    const host = { id: randomUUID(), name: 'stuck', ipAddress: '127.0.0.1', sshPort: silent.port, winRmPort: closed };
    const store = await backend.prepare();
    const gw = await spawnGateway({ ...store.env, HOSTS_FILE: hostsFile([host]), SHUTDOWN_DRAIN_MS: '500', SCAN_TIMEOUT_MS: '60000' });
    const [job] = (await call(`${gw.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: [host.id] })).json;
    // Leased and probing: otherwise nothing would be handed back and the check below would hold anyway.
    await waitForJobState(gw.url, job.id, token, started);
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    const check = await store.open();
    const [row] = await sqlOf(check).query<{ status: number; attempts: number; lease_owner: string | null }>('SELECT status, attempts, lease_owner FROM host_scans');
    await check.stop();
    await store.cleanup();
    expect(row).toEqual({ status: 0, attempts: 0, lease_owner: null });
  }, 60_000);
});
