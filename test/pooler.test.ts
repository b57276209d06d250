import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { poolDb } from '../src/store/pool-db';
import { spawnGateway, type ChildGateway } from './support/child';
import { cancelReachesB, eventHealth, silentHosts } from './support/cross-instance';
import { gql } from './support/graphql';
import { call } from './support/http';
import { closedPort, silentListener, sshListener } from './support/listeners';
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
// Debian's PgBouncer (1.18) does not keep prepared statements per client.
const THROUGH_POOLER = { DATABASE_PREPARED_STATEMENTS: 'false' };

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
    const a = await spawnGateway({ ...THROUGH_POOLER, ...env });
    const b = await spawnGateway({ ...THROUGH_POOLER, ...env });
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
      // Credentials and signing-key rotation (on request only) take their paths through the pooler too.
      CREDENTIALS_KEY: randomBytes(32).toString('base64'), TOKEN_KEY_ROTATE_DAYS: '0',
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

    // One call of each remaining write path; PgBouncer's log below covers them too.
    const ok = async (url: string, query: string, variables?: Record<string, unknown>) => {
      const res = await gql(url, token, query, variables);
      expect(res.body.errors, query).toBeUndefined();
      return res.body.data;
    };
    const held = await silentHosts(a, 1, 'pausable');
    cleanup.push(() => held.close());
    const [pausable] = (await call(`${a.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: held.ids })).json;
    await ok(b.url, 'mutation($id: ID!) { pauseHostScanJob(id: $id) { id } }', { id: pausable.id });
    await ok(a.url, 'mutation($id: ID!) { resumeHostScanJob(id: $id) { id } }', { id: pausable.id });
    expect((await call(`${b.url}/api/v1/HostScanJob/${pausable.id}`, { method: 'DELETE', token })).status).toBe(202);
    const schedule = await ok(a.url, 'mutation($s: ScanScheduleInput!) { createScanSchedule(schedule: $s) { id nextRuns } }', {
      s: { name: 'pooled-nightly', cron: '0 3 * * *', timeZone: 'Europe/Berlin', hostIds: held.ids },
    });
    expect(schedule.createScanSchedule.nextRuns.length).toBeGreaterThan(0);
    await ok(b.url, 'mutation($i: CreateCredentialInput!) { createCredential(input: $i) { id } }', {
      i: { name: 'pooled-credential', kind: 'SshPassword', username: 'scan', password: USER_PASSWORD },
    });
    const imported = await call(`${a.url}/api/v1/HostScanJob/ImportCSV`, {
      token,
      body: { csv: `DNS Host Name,IP Address,SSH Port,Credential\r\npooled-csv,127.0.0.1,${await closedPort()},pooled-credential` },
    });
    expect(imported.status, imported.text).toBe(200);
    expect(imported.json).toMatchObject({ rows: 1, badRows: 0, imported: true });
    expect((await ok(b.url, 'mutation { rotateSigningKey { state } }')).rotateSigningKey.state).toBe('next');
    expect(bouncer.output()).not.toMatch(/ERROR|FATAL/);
  }, 90_000);

  it('with DATABASE_LISTEN_URL the listener hears, and a cancel on A reaches B without the poll', async () => {
    const { db, bouncer } = await start();
    // Trust authentication ignores the password here too; the listener's URL is named in logs, never it.
    const listenUrl = new URL(db.url);
    listenUrl.password = PASSWORD;
    const [a, b] = await spawnTwo({
      DATABASE_URL: bouncer.through(db.name), DATABASE_LISTEN_URL: listenUrl.toString(), SCAN_CONCURRENCY: '2', SCAN_LEASE_MS: '3000',
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
    for (const g of [a, b]) {
      const logs = g.lines.join('\n');
      expect(logs, 'the listen path is named in the logs (redacted)').toContain(`:***@${listenUrl.host}`);
      expect(JSON.stringify((await eventHealth(g)).body) + logs + (await call(`${g.url}/metrics`)).text).not.toContain(PASSWORD);
    }
  }, 90_000);

  it('while deaf, B serves no job from its cache: a cancel on A shows in B\'s next REST read', async () => {
    const { db, bouncer } = await start();
    const env = {
      ...THROUGH_POOLER,
      DATABASE_URL: bouncer.through(db.name), SCAN_CONCURRENCY: '2', SCAN_LEASE_MS: '3000', SCAN_TIMEOUT_MS: '60000', EVENTS_CHECK_MS: '1000',
      // The poll would bring the cancel only after a minute; the read must not wait for it.
      EVENTS_POLL_MS: '60000',
    };
    const a = await spawnGateway(env);
    cleanup.push(() => (a.child.kill('SIGKILL'), a.exited));
    // X runs on A (B is not started yet, so it cannot lease X and learn of the cancel by itself).
    const silent = await silentListener();
    cleanup.push(() => silent.close());
    const host = await call(`${a.url}/graphql`, {
      token,
      body: { query: 'mutation($h: [HostInput!]!) { upsertHosts(hosts: $h) { id } }', variables: { h: [{ name: 'cached', ipAddress: '127.0.0.1', sshPort: silent.port, winRmPort: await closedPort() }] } },
    });
    const [x] = (await call(`${a.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: [host.json.data.upsertHosts[0].id] })).json;
    const status = async (g: ChildGateway) => (await call(`${g.url}/api/v1/HostScanJob/${x.id}`, { token })).json.hostScanJobHostJoin[0].actionQueue.status;
    const running = Date.now() + 20_000;
    while ((await status(a)) !== 1) {
      expect(Date.now(), 'X Running on A').toBeLessThan(running);
      await new Promise((r) => setTimeout(r, 50));
    }
    const b = await spawnGateway(env);
    cleanup.push(() => (b.child.kill('SIGKILL'), b.exited));
    expect((await eventHealth(b)).deaf).toBe(1);

    // Read twice: a trusted cache would hold X as Running from here on.
    expect(await status(b)).toBe(1);
    expect(await status(b)).toBe(1);
    // A running scan is cancelled by the instance running it, just after the 202: B reads once A has.
    expect((await call(`${a.url}/api/v1/HostScanJob/${x.id}`, { method: 'DELETE', token })).status).toBe(202);
    const cancelled = Date.now() + 10_000;
    while ((await status(a)) !== 4) {
      expect(Date.now(), 'X Cancelled on A').toBeLessThan(cancelled);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await status(b), "B's first read after A's").toBe(4);
    expect(bouncer.output()).not.toMatch(/ERROR|FATAL/);
  }, 90_000);

  it('with DATABASE_PREPARED_STATEMENTS left on, the first statement that meets another session says to turn it off', async () => {
    const { db, bouncer } = await start();
    // Two pools, as two instances: PgBouncer hands the second the server session the first prepared in.
    const pools = [1, 2].map(() => new pg.Pool({ connectionString: bouncer.through(db.name), max: 1 }));
    cleanup.push(() => Promise.all(pools.map((p) => p.end())));
    const [one, two] = pools.map((p) => poolDb(p, { prepare: true }));
    expect(await one!.query('SELECT $1::int AS n', [1])).toEqual([{ n: 1 }]);
    await expect(two!.query('SELECT $1::int AS n', [2])).rejects.toThrow(/prepared statements do not follow this connection .*Turn them off with DATABASE_PREPARED_STATEMENTS=false/);
    // Unprepared, the same statement runs through the same pooler.
    expect(await poolDb(pools[1]!, { prepare: false }).query('SELECT $1::int AS n', [3])).toEqual([{ n: 3 }]);
  });
});
