import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredentialedScanner } from '../src/scanner/credentialed';
import { createProbeScanner } from '../src/scanner/probe';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql, wsClient } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';
import { inventorySshdAvailable, startInventorySshd, type InventorySshd } from './support/inventory-sshd';
import { gatewayBackends } from './support/postgres';
import { sqlOf } from './support/sql';
import { adminToken, appToken } from './support/tokens';
import { until } from './support/wait';

// inventoryChanges end to end: the real runner and credentialed scanner log in to the fixture sshd, the
// store records each snapshot with its differences, and the subscription streams them. The credential
// comes from a source the test gives the scanner (credential storage is not this feature's).

const SUBSCRIBE = `subscription($hostIds: [ID!], $privilegedOnly: Boolean!) {
  inventoryChanges(hostIds: $hostIds, privilegedOnly: $privilegedOnly) { hostId snapshotId changes { kind subject privileged before after } } }`;

for (const backend of gatewayBackends()) describe.skipIf(!inventorySshdAvailable() || !backend.available)(`inventoryChanges over WebSocket (${backend.name})`, () => {
  let sshd: InventorySshd;
  let t: TestGateway;
  let drop: () => Promise<void>;
  let storeEnv: Record<string, string>;
  const host = { id: randomUUID(), name: 'fixture-host', ipAddress: '127.0.0.1', sshPort: 0 };

  const scanAndWait = async () => {
    const scheduled = await gql(t.url, adminToken(), 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }', { ids: [host.id] });
    const id = scheduled.body.data.scheduleHostScans[0].id;
    return until(`job ${id} to end`, async () => {
      const { body } = await gql(t.url, adminToken(), 'query($id: ID!) { hostScanJob(id: $id) { status statusDescription } }', { id });
      return !['Queued', 'Running'].includes(body.data.hostScanJob.status) && body.data.hostScanJob;
    }, { timeoutMs: 50_000, everyMs: 100 });
  };

  beforeAll(async () => {
    sshd = await startInventorySshd();
    host.sshPort = sshd.port;
    const scanner = createCredentialedScanner({
      probe: createProbeScanner(),
      credentials: { reveal: async () => ({ username: 'root', privateKey: sshd.rootKey }) },
    });
    const { env, drop: d } = await backend.env();
    drop = d;
    storeEnv = env;
    t = await startTestGateway({ HOSTS_FILE: hostsFile([host, HOSTS.beta]), ...env }, { scanner });
    const credentialId = randomUUID();
    await sqlOf(t.gateway.store).query(
      `INSERT INTO credentials (id, name, kind, username, secret, key_id) VALUES ($1, 'fixture root', 1, 'root', 'sealed elsewhere', 'test')`, [credentialId]);
    await sqlOf(t.gateway.store).query('UPDATE hosts SET credential_id = $1 WHERE id = $2', [credentialId, host.id]);
    expect(await scanAndWait()).toMatchObject({ status: expect.stringMatching(/^Complete(dWithErrors)?$/) });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    await drop?.();
    await sshd?.close();
  });

  it('streams a new sudo member to a privileged-only subscriber, and every change to an unfiltered one', async () => {
    const client = wsClient(t.url, { Authorization: `Bearer ${appToken()}` });
    const privileged: any[] = [];
    const all: any[] = [];
    const elsewhere: any[] = [];
    const subscribe = (variables: Record<string, unknown>, into: any[]) => {
      let done!: () => void;
      let failed!: (e: unknown) => void;
      const first = new Promise<void>((resolve, reject) => ((done = resolve), (failed = reject)));
      const stop = client.subscribe({ query: SUBSCRIBE, variables }, {
        next: (r: any) => (r.errors ? failed(new Error(JSON.stringify(r.errors))) : (into.push(r.data.inventoryChanges), done())),
        error: failed,
        complete: () => {},
      });
      return { first, stop };
    };
    try {
      const a = subscribe({ hostIds: [host.id], privilegedOnly: true }, privileged);
      const b = subscribe({ hostIds: null, privilegedOnly: false }, all);
      const c = subscribe({ hostIds: [HOSTS.beta.id], privilegedOnly: false }, elsewhere);
      // Subscriptions are open once the socket is acknowledged; wait until all three are held.
      await until('three subscriptions to be active', () => t.gateway.sockets.activeSubscriptions >= 3);

      // carol joins sudo (privileged), and a new unprivileged account appears.
      const etc = join(sshd.root, 'etc');
      writeFileSync(join(etc, 'group'), readFileSync(join(etc, 'group'), 'utf8').replace('sudo:x:27:alice', 'sudo:x:27:alice,carol'));
      writeFileSync(join(etc, 'passwd'), readFileSync(join(etc, 'passwd'), 'utf8') + 'newbie:x:1600:1500:New:/home/newbie:/bin/bash\n');
      expect(await scanAndWait()).toMatchObject({ status: expect.stringMatching(/^Complete(dWithErrors)?$/) });
      await Promise.all([a.first, b.first]);

      expect(privileged).toEqual([{ hostId: host.id, snapshotId: expect.any(String), changes: [
        { kind: 'privilege-changed', subject: 'carol', privileged: true, before: 'LinuxUser', after: 'Administrator' },
      ] }]);
      expect(all).toEqual([{ hostId: host.id, snapshotId: privileged[0].snapshotId, changes: [
        { kind: 'privilege-changed', subject: 'carol', privileged: true, before: 'LinuxUser', after: 'Administrator' },
        { kind: 'account-added', subject: 'newbie', privileged: false, before: null, after: 'LinuxUser' },
      ] }]);
      // The same event went to the beta-only subscriber's socket before this point, had it passed the filter.
      expect(elsewhere).toEqual([]);
      a.stop(); b.stop(); c.stop();

      // What the event announced is what the graph serves.
      const { body } = await gql(t.url, appToken(), 'query($id: ID!) { host(id: $id) { latestScan { id changesSincePrevious { kind subject } users(privileged: true) { name } } } }', { id: host.id });
      expect(body.data.host.latestScan).toMatchObject({ id: privileged[0].snapshotId, changesSincePrevious: [{ kind: 'privilege-changed', subject: 'carol' }, { kind: 'account-added', subject: 'newbie' }] });
      expect(body.data.host.latestScan.users.map((u: { name: string }) => u.name)).toContain('carol');
    } finally {
      await client.dispose();
    }
  }, 60_000);

  // Several instances share PostgreSQL only (the embedded store serves one gateway).
  if (backend.name === 'PostgreSQL') it('streams a change another instance recorded, once, to a subscriber on this one', async () => {
    // A second gateway on the same database, without a runner: every scan is recorded by the first.
    const other = await startTestGateway(storeEnv, { runner: false });
    const client = wsClient(other.url, { Authorization: `Bearer ${appToken()}` });
    try {
      const heard: any[] = [];
      client.subscribe({ query: SUBSCRIBE, variables: { hostIds: [host.id], privilegedOnly: false } }, {
        next: (r: any) => heard.push(r.data?.inventoryChanges ?? r.errors),
        error: (e: unknown) => heard.push(e),
        complete: () => {},
      });
      await until('the subscription on the other instance to be active', () => other.gateway.sockets.activeSubscriptions >= 1);
      const etc = join(sshd.root, 'etc');
      writeFileSync(join(etc, 'passwd'), readFileSync(join(etc, 'passwd'), 'utf8') + 'remote1:x:1601:1500:Remote:/home/remote1:/bin/bash\n');
      expect(await scanAndWait()).toMatchObject({ status: expect.stringMatching(/^Complete(dWithErrors)?$/) });
      await until('the change to reach the other instance', () => heard.length > 0, { timeoutMs: 30_000 });
      expect(heard).toEqual([{ hostId: host.id, snapshotId: expect.any(String), changes: [
        { kind: 'account-added', subject: 'remote1', privileged: false, before: null, after: 'LinuxUser' },
      ] }]);
      // The job is announced again by a rescan with no difference: the earlier snapshot is not sent twice.
      expect(await scanAndWait()).toMatchObject({ status: expect.stringMatching(/^Complete(dWithErrors)?$/) });
      const [recorded] = await sqlOf(t.gateway.store).query<{ n: number }>('SELECT count(*)::int AS n FROM host_snapshots WHERE host_id = $1', [host.id]);
      await until('the rescan to reach the other instance', async () => {
        const { body } = await gql(other.url, appToken(), 'query($id: ID!) { host(id: $id) { scans(first: 100) { nodes { id } } } }', { id: host.id });
        return body.data.host.scans.nodes.length === recorded!.n;
      });
      expect(heard).toHaveLength(1);
    } finally {
      await client.dispose();
      await other.stop();
    }
  }, 90_000);

  it('never logs the key it logged in with', () => {
    const keyBody = sshd.rootKey.split('\n').filter((line) => line && !line.startsWith('-----')).join('');
    expect(keyBody.length).toBeGreaterThan(40);
    const logs = t.logs.join('').replace(/\\n|\n/g, '');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(keyBody.slice(0, 40));
  });

  it('refuses bad host ids with a clear error', async () => {
    const client = wsClient(t.url, { Authorization: `Bearer ${adminToken()}` });
    try {
      const error = await new Promise<any>((resolve) => {
        client.subscribe({ query: SUBSCRIBE, variables: { hostIds: ['not-a-uuid'], privilegedOnly: false } }, {
          next: (r: any) => resolve(r.errors), error: resolve, complete: () => resolve(null),
        });
      });
      expect(error[0]).toMatchObject({ extensions: { code: 'BAD_INPUT' } });
    } finally {
      await client.dispose();
    }
  });
});
