import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { collect, gql, wsClient } from './support/graphql';
import { call } from './support/http';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { startTcpProxy } from './support/tcp-proxy';
import { adminToken, appToken } from './support/tokens';
import { until } from './support/wait';

const token = adminToken();

describe.skipIf(!postgresAdminUrl())('PostgreSQL outage', () => {
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let t: TestGateway;
  let ssh: TestListener;
  beforeAll(async () => {
    db = await createDatabase();
    const admin = new URL(postgresAdminUrl()!);
    proxy = await startTcpProxy(Number(admin.port || 5432), admin.hostname);
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    t = await startTestGateway({ DATABASE_URL: viaProxy.toString(), SCAN_LEASE_MS: '2000', SCAN_RETRY_BACKOFF_MS: '100' });
    ssh = await sshListener('SSH-2.0-OpenSSH_8.0', { delayMs: 1_500 });
  });
  afterAll(async () => {
    await t.stop();
    await ssh.close();
    await proxy.close();
    await db.drop();
  });

  it('answers 503 while the database is unreachable and recovers by itself', async () => {
    const closed = await closedPort();
    const [slow, later] = await t.gateway.service.upsertHosts(ADMIN, {
      hosts: ['slow', 'later'].map((n) => ({ name: `${n}-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed })),
    });
    const api = `${t.url}/api/v1/HostScanJob`;
    // A scan in flight when the database goes away, watched by a subscriber.
    const running = await call(`${api}/ByHostIdMultiple`, { token, body: [slow!.id] });
    expect(running.status).toBe(200);
    const client = wsClient(t.url, { token: appToken() });
    const watched = collect(client, 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status } }', { ids: [running.json[0].id] });
    await until('the subscriber to receive the job as it is now', () => watched.results.length > 0);

    proxy.cut();
    const refused = await call(`${api}/ByHostIdMultiple`, { token, body: [later!.id] });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.json).toMatchObject({ status: 503, title: 'Service Unavailable', traceId: expect.any(String) });
    expect(refused.text).not.toMatch(/ECONNRESET|at .*\.js|SELECT|password/);
    const viaGraphQL = await gql(t.url, token, `mutation { scheduleHostScans(hostIds: ["${later!.id}"]) { id } }`);
    expect(viaGraphQL.body.errors[0].extensions.code).toBe('UNAVAILABLE');
    expect((await call(`${t.url}/health/ready`)).status).toBe(503);
    expect((await call(`${t.url}/health/live`)).status).toBe(200);

    // Workers back off instead of spinning while it stays down.
    const logsBefore = t.logs.length;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(t.logs.length - logsBefore).toBeLessThan(60);

    proxy.restore();
    const deadline = Date.now() + 15_000;
    while ((await call(`${t.url}/health/ready`)).status !== 200) {
      expect(Date.now(), 'waiting for readiness 200 once the database is back').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    const accepted = await call(`${api}/ByHostIdMultiple`, { token, body: [later!.id] });
    expect(accepted.status).toBe(200);

    // The scan that was in flight still ends, and the subscriber hears it.
    const results = await watched.done;
    expect(results.at(-1)!.data.hostScanJobStatus.status).toBe('Complete');
    await client.dispose();
  }, 60_000);
});
