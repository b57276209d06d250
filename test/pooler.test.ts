import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway, type ChildGateway } from './support/child';
import { cancelReachesB, eventHealth } from './support/cross-instance';
import { gql } from './support/graphql';
import { call } from './support/http';
import { closedPort, sshListener } from './support/listeners';
import { pgbouncerAvailable, startPgbouncer } from './support/pgbouncer';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { adminToken } from './support/tokens';

const token = adminToken();
// The fallback poll's period (EVENTS_POLL_MS) in these gateways; a change read by it reaches subscribers
// within this plus one read of the store, which the README documents.
const POLL_MS = 1_000;
// Room for a loaded machine (two cores shared with other test runs); still far below a deaf minute.
const MARGIN_MS = 5_000;
const PASSWORD = 'never-shown-7f3a';
const USER_PASSWORD = 'a-user-password-9c41e';

describe.skipIf(!postgresAdminUrl() || !pgbouncerAvailable())('two gateways behind PgBouncer in transaction pooling mode', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  const start = async () => {
    const db = await createDatabase();
    cleanup.push(() => db.drop());
    const bouncer = await startPgbouncer(postgresAdminUrl()!);
    cleanup.push(() => bouncer.stop());
    return { db, bouncer };
  };
  const spawnTwo = async (env: Record<string, string>) => {
    // One at a time: both would migrate at once, which the advisory lock allows but a loaded machine slows.
    const a = await spawnGateway(env);
    const b = await spawnGateway(env);
    const both: ChildGateway[] = [a, b];
    cleanup.push(() => Promise.all(both.map((c) => (c.child.kill('SIGKILL'), c.exited))));
    return [a, b] as const;
  };

  it('run every query path through it; without DATABASE_LISTEN_URL the listener is deaf, says so, and the fallback poll carries a cancel on A to B', async () => {
    const { db, bouncer } = await start();
    // Trust authentication ignores the password; the gateway must still never show it.
    const withPassword = new URL(bouncer.through(db.name));
    withPassword.password = PASSWORD;
    const [a, b] = await spawnTwo({
      DATABASE_URL: withPassword.toString(), SCAN_CONCURRENCY: '2', SCAN_LEASE_MS: '3000', SCAN_TIMEOUT_MS: '60000',
      EVENTS_POLL_MS: String(POLL_MS), EVENTS_CHECK_MS: '1000', SIGNIN_MFA: 'off',
    });

    // Deaf, and every way of telling says so.
    for (const g of [a, b]) {
      const health = await eventHealth(g);
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('degraded');
      expect(health.body.reason).toMatch(/PostgreSQL LISTEN .*did not come back/);
      expect(health.body.reason).toContain(`127.0.0.1:${bouncer.port}`);
      expect(health.deaf).toBe(1);
      expect(g.lines.some((l) => l.includes('"level":40') && l.includes('may go unheard'))).toBe(true);
      expect(JSON.stringify(health) + g.lines.join('\n') + (await call(`${g.url}/metrics`)).text).not.toContain(PASSWORD);
    }

    // A scan that completes: claim, heartbeat and result writes, all through the pooler.
    const answering = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3');
    cleanup.push(() => answering.close());
    const host = await call(`${a.url}/graphql`, {
      token,
      body: { query: 'mutation($h: [HostInput!]!) { upsertHosts(hosts: $h) { id } }', variables: { h: [{ name: 'answers', ipAddress: '127.0.0.1', sshPort: answering.port, winRmPort: await closedPort() }] } },
    });
    const [job] = (await call(`${b.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: [host.json.data.upsertHosts[0].id] })).json;
    const deadline = Date.now() + 20_000;
    while ((await call(`${a.url}/api/v1/HostScanJob/${job.id}`, { token })).json.hostScanJobHostJoin[0].actionQueue.status !== 2) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    const listed = await gql(b.url, token, '{ hostScanJobs(first: 5) { nodes { id status } } }');
    expect(listed.body.data.hostScanJobs.nodes).toContainEqual({ id: job.id, status: 'Complete' });
    expect((await call(`${a.url}/api/v1/HostScanJob/ByHostId/${host.json.data.upsertHosts[0].id}`, { token })).status).toBe(200);
    expect((await call(`${b.url}/api/v1/audit/export`, { token })).text).toContain('jobs.schedule');

    // A cancel on A reaches B's subscriber through the fallback poll.
    await cancelReachesB(a, b, db.url, 'deaf', POLL_MS + MARGIN_MS);

    // Revocations too are read again (every EVENTS_CHECK_MS) where LISTEN hears nothing.
    for (const revoke of ['disableUser', 'deleteUser'] as const) {
      const login = `pooled-${revoke}`;
      const created = await gql(a.url, token, 'mutation($p: String!, $l: String!) { createUser(login: $l, password: $p, roles: ["App"]) { id } }', { l: login, p: USER_PASSWORD });
      const signedIn = await call(`${a.url}/signinBody`, { body: { Login: login, Password: USER_PASSWORD } });
      expect(signedIn.status).toBe(200);
      const userToken = signedIn.json as string;
      expect((await call(`${b.url}/api/v1/HostScanJob`, { token: userToken })).status).toBe(200);
      const revoked = await gql(a.url, token, `mutation($id: ID!) { ${revoke}(id: $id)${revoke === 'disableUser' ? ' { id }' : ''} }`, { id: created.body.data.createUser.id });
      expect(revoked.body.errors).toBeUndefined();
      const revokedBy = Date.now() + 1_000 + MARGIN_MS;
      let status = 200;
      while (status === 200) {
        expect(Date.now(), `B still honours the token of a user ${revoke === 'disableUser' ? 'disabled' : 'deleted'} on A`).toBeLessThan(revokedBy);
        await new Promise((r) => setTimeout(r, 100));
        status = (await call(`${b.url}/api/v1/HostScanJob`, { token: userToken })).status;
      }
      expect(status).toBe(401);
    }
    expect(bouncer.output()).not.toMatch(/ERROR|FATAL/);
  }, 90_000);

  it('with DATABASE_LISTEN_URL the listener hears, and a cancel on A reaches B without the poll', async () => {
    const { db, bouncer } = await start();
    const [a, b] = await spawnTwo({
      DATABASE_URL: bouncer.through(db.name), DATABASE_LISTEN_URL: db.url, SCAN_CONCURRENCY: '2', SCAN_LEASE_MS: '3000',
      SCAN_TIMEOUT_MS: '60000', EVENTS_CHECK_MS: '1000',
      // A poll this slow cannot be what delivers the cancel within the bound below.
      EVENTS_POLL_MS: '60000',
    });
    for (const g of [a, b]) {
      const health = await eventHealth(g);
      expect(health.body).toEqual({ status: 'ready' });
      expect(health.deaf).toBe(0);
    }
    // Milliseconds when quiet (NOTIFY at commit); the bound only has to stay far below the 60 s poll.
    await cancelReachesB(a, b, db.url, 'heard', MARGIN_MS);
  }, 90_000);
});
