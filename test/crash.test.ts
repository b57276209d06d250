import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store';
import { spawnGateway } from './support/child';
import { freshDataDir } from './support/gateway';
import { hostsFile } from './support/hosts';
import { call } from './support/http';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { adminToken } from './support/tokens';
import { sqlOf } from './support/sql';

const HOSTS = 30;
const RETRY_LIMIT = 2;
const token = adminToken();
const listeners: TestListener[] = [];
afterAll(async () => {
  await Promise.all(listeners.map((l) => l.close()));
});

async function statuses(url: string) {
  const res = await call(`${url}/api/v1/HostScanJob?take=1000`, { token });
  expect(res.status).toBe(200);
  return res.json as { id: string; status: number; hostScanHostStatus: { hostId: string; status: number }[] }[];
}

describe('kill -9 with scans running', () => {
  it('loses no job, leaves none Running and scans none more than retry limit + 1 times', async () => {
    const closed = await closedPort();
    const hosts = [];
    for (let i = 0; i < HOSTS; i++) {
      // Slow to answer, so scans are in flight when the process dies.
      const l = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 1_500 });
      listeners.push(l);
      hosts.push({ id: crypto.randomUUID(), name: `crash-${i}`, ipAddress: '127.0.0.1', sshPort: l.port, winRmPort: closed });
    }
    const dataDir = freshDataDir();
    const env = {
      DATA_DIR: dataDir, HOSTS_FILE: hostsFile(hosts), SCAN_CONCURRENCY: '10', SCAN_LEASE_MS: '1000',
      SCAN_RETRY_LIMIT: String(RETRY_LIMIT), SCAN_RETRY_BACKOFF_MS: '100', SCAN_TIMEOUT_MS: '10000',
    };

    const first = await spawnGateway(env);
    const scheduled = await call(`${first.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: hosts.map((h) => h.id) });
    expect(scheduled.status).toBe(200);
    const jobIds: string[] = scheduled.json.map((j: { id: string }) => j.id);
    const deadline = Date.now() + 10_000;
    // Connected to their hosts, not only leased: these attempts must be seen again after the restart.
    while (listeners.filter((l) => l.connections > 0).length < 5) {
      expect(Date.now(), 'waiting for 5 scans connected before kill -9').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const second = await spawnGateway(env);
    const settle = Date.now() + 30_000;
    let final = await statuses(second.url);
    while (final.some((j) => j.status === 0 || j.status === 1)) {
      expect(Date.now(), JSON.stringify(final.filter((j) => j.status < 2))).toBeLessThan(settle);
      await new Promise((r) => setTimeout(r, 100));
      final = await statuses(second.url);
    }
    expect(final.map((j) => j.id).sort()).toEqual([...jobIds].sort());
    expect(final.every((j) => j.status === 2)).toBe(true);
    for (const l of listeners) {
      expect(l.connections).toBeGreaterThanOrEqual(1);
      expect(l.connections).toBeLessThanOrEqual(RETRY_LIMIT + 1);
    }
    expect(listeners.some((l) => l.connections > 1)).toBe(true);

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const store = await openStore({ databaseUrl: null, dataDir });
    const rows = await sqlOf(store).query<{ status: number; attempts: number }>('SELECT status, attempts FROM host_scans');
    await store.stop();
    expect(rows).toHaveLength(HOSTS);
    for (const r of rows) {
      expect(r.status).toBe(2);
      expect(r.attempts).toBeLessThanOrEqual(RETRY_LIMIT + 1);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 90_000);
});
