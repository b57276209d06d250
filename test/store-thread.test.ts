import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedDb } from '../src/store/pglite';
import { startTestGateway, type TestGateway } from './support/gateway';
import { until } from './support/wait';
import { call } from './support/http';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { ADMIN } from './support/principals';
import { sqlOf } from './support/sql';
import { adminToken } from './support/tokens';

// The embedded store's thread dies (killed here through a hook only tests call): it comes back on the same
// data directory by itself; calls meanwhile get 503 and may be retried; no job is lost or scanned twice.

describe('the embedded store thread', () => {
  let t: TestGateway;
  let ssh: TestListener;
  beforeAll(async () => {
    t = await startTestGateway({ SCAN_CONCURRENCY: '8' });
    ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 150 });
  });
  afterAll(async () => {
    await t?.stop();
    await ssh?.close();
  });

  it('restarts after it dies: 503 while it is away, then every job ends with one attempt each', async () => {
    const closed = await closedPort();
    const hosts = await t.gateway.service.upsertHosts(ADMIN, {
      hosts: Array.from({ length: 60 }, () => ({ name: `thread-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed })),
    });
    const scheduled = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: hosts.map((h) => h.id) });
    expect(scheduled.status).toBe(200);
    const ids: string[] = scheduled.json.map((j: { id: string }) => j.id);
    await until('scans to be running', async () => (await t.gateway.store.queue.depth()).running > 0);

    await (sqlOf(t.gateway.store) as EmbeddedDb).terminateForTests();
    const during = await call(`${t.url}/api/v1/HostScanJob?take=1`, { token: adminToken() });
    expect([200, 503]).toContain(during.status);
    if (during.status === 503) expect(during.headers.get('retry-after')).toBeTruthy();
    const readiness: number[] = [];
    await until('readiness to go 503 and come back', async () => {
      readiness.push((await fetch(`${t.url}/health/ready`)).status);
      return readiness.at(-1) === 200 && readiness.includes(503);
    }, { timeoutMs: 20_000 });

    // The store may still be coming back: a refused read is "not yet".
    await until('every scan to end', async () => {
      const depth = await t.gateway.store.queue.depth().catch(() => null);
      return depth !== null && depth.queued + depth.running === 0;
    }, { timeoutMs: 60_000 });
    const jobs = await t.gateway.store.jobs.getJobs(ids);
    expect(jobs).toHaveLength(60);
    expect(jobs.flatMap((j) => j.scans.map((s) => [s.status, s.attempts])).filter(([status, attempts]) => status !== 2 || attempts !== 1)).toEqual([]);
    expect(t.logs.some((l) => l.includes('the embedded store thread is back'))).toBe(true);
  }, 120_000);

  it('a write in flight when the thread dies is whole or absent, answered 503 with Retry-After, and safe to retry', async () => {
    const closed = await closedPort();
    const hosts = await t.gateway.service.upsertHosts(ADMIN, {
      hosts: Array.from({ length: 500 }, () => ({ name: `inflight-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed })),
    });
    const ids = hosts.map((h) => h.id);
    const jobsOf = async () => (await t.gateway.store.jobs.listIds({ limit: 10_000, offset: 0, beforeSeq: null, status: null })).length;
    const before = await jobsOf();
    // The schedule is sent, and the thread killed while its transaction runs (500 jobs take a while).
    const scheduling = call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: ids });
    await new Promise((r) => setImmediate(r));
    await (sqlOf(t.gateway.store) as EmbeddedDb).terminateForTests();
    const answer = await scheduling;
    expect([200, 503]).toContain(answer.status);
    await until('the store to be back', async () => (await fetch(`${t.url}/health/ready`)).status === 200, { timeoutMs: 20_000 });
    // One job per host, all or none: a transaction cut by the thread's death leaves nothing half-written.
    const added = (await jobsOf()) - before;
    expect([0, ids.length]).toContain(added);
    if (answer.status === 200) expect(added).toBe(answer.json.length);
    else {
      expect(answer.headers.get('retry-after')).toBeTruthy();
      expect(answer.json).toMatchObject({ status: 503, title: 'Service Unavailable' });
      // Committed before the reply was lost, or not at all: a retry schedules what is missing, nothing twice.
      const retried = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: ids });
      expect(retried.status).toBe(200);
      if (added === 0) expect((await jobsOf()) - before).toBe(ids.length);
    }
    // Nothing outlives the restart half-done: every scan of these hosts ends, each with one attempt.
    await until('every scan to end', async () => {
      const depth = await t.gateway.store.queue.depth().catch(() => null);
      return depth !== null && depth.queued + depth.running === 0;
    }, { timeoutMs: 60_000 });
  }, 120_000);
});

