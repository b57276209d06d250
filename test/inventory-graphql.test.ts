import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserPrivilege } from '../src/inventory';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';
import { countStoreCalls, recordSnapshots, syntheticSnapshot } from './support/inventory';
import { gatewayBackends } from './support/postgres';
import { adminToken, appToken, token } from './support/tokens';

// The inventory over GraphQL: Host.latestScan and Host.scans on stored snapshots (written through the
// store's own result path), batched reads, paging, roles and limits, on both stores.

const backends = gatewayBackends();

const LATEST = `query($id: ID!) { host(id: $id) { name latestScan {
  os version hostName sshHostKeyFingerprint scannedAt notes
  users { name uid gid home shell privilege isPrivileged privilegeReasons isDisabled groups { name } }
  privileged: users(privileged: true) { name }
  groups { name gid members { name user { uid } } }
  services { name description startType runAs command }
  scheduledTasks { name schedule command runAs source taskPath }
  changesSincePrevious { kind subject privileged before after } } } }`;

const PAGE = `query($first: Int!) { hosts(first: $first) { nodes { id name latestScan { os users { name privilege groups { name } } groups { name members { name } } } } } }`;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`inventory over GraphQL (${backend.name})`, () => {
    let t: TestGateway;
    let drop: () => Promise<void>;
    const admin = adminToken();
    beforeAll(async () => {
      const { env, drop: d } = await backend.env();
      drop = d;
      // A page of 100 scanned hosts and their own cost budget (see the README's note on GRAPHQL_MAX_COST).
      const many = Array.from({ length: 100 }, (_, i) => ({ id: randomUUID(), name: `inv-${String(i).padStart(3, '0')}`, ipAddress: '127.0.0.1' }));
      t = await startTestGateway({ HOSTS_FILE: hostsFile([...Object.values(HOSTS), ...many]), GRAPHQL_MAX_COST: '2000000', ...env }, { runner: false });
      await recordSnapshots(t.gateway.store, many.map((h) => ({ hostId: h.id, snapshot: syntheticSnapshot({ users: 6, groups: 3 }) })));
      const first = syntheticSnapshot();
      await recordSnapshots(t.gateway.store, [{ hostId: HOSTS.alpha.id, snapshot: first, fingerprint: 'SHA256:first' }]);
      // The second scan: user002 became an Administrator, user004 went away, a service was added.
      const second = syntheticSnapshot();
      second.users[2]!.privilege = UserPrivilege.Administrator;
      second.users[2]!.privilegeReasons = ['member of sudo'];
      second.users.splice(4, 1);
      second.services.push({ ...second.services[0]!, name: 'backdoor.service' });
      await recordSnapshots(t.gateway.store, [{ hostId: HOSTS.alpha.id, snapshot: second, fingerprint: 'SHA256:second' }]);
    }, 60_000);
    afterAll(async () => {
      await t?.stop();
      await drop?.();
    });

    it('serves the latest scan with its accounts, groups, services, tasks and changes', async () => {
      const { status, body } = await gql(t.url, appToken(), LATEST, { id: HOSTS.alpha.id });
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      const scan = body.data.host.latestScan;
      expect(scan).toMatchObject({ os: 'Debian GNU/Linux', version: '12', hostName: 'synthetic', sshHostKeyFingerprint: 'SHA256:second', notes: [] });
      expect(scan.users.map((u: { name: string }) => u.name)).toEqual(['root', 'user001', 'user002', 'user003']);
      expect(scan.users[0]).toEqual({
        name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash', privilege: 'SuperUser', isPrivileged: true, privilegeReasons: ['uid 0'],
        isDisabled: false, groups: [],
      });
      expect(scan.users[1]).toMatchObject({ name: 'user001', privilege: 'Administrator', groups: [{ name: 'group001' }, { name: 'sudo' }] });
      expect(scan.privileged).toEqual([{ name: 'root' }, { name: 'user001' }, { name: 'user002' }]);
      expect(scan.groups.find((g: { name: string }) => g.name === 'sudo')).toEqual({ name: 'sudo', gid: 27, members: [{ name: 'user001', user: { uid: 1001 } }] });
      expect(scan.services[0]).toEqual({ name: 'backdoor.service', description: 'Unit 0', startType: 'Automatic', runAs: 'root', command: '/usr/bin/unit0' });
      expect(scan.services.find((s: { name: string }) => s.name === 'unit001.service')).toMatchObject({ startType: 'Manual', runAs: 'svc1' });
      expect(scan.scheduledTasks[0]).toEqual({ name: '/usr/local/bin/job0', schedule: '0 3 * * *', command: '/usr/local/bin/job0', runAs: 'root', source: 'crontab', taskPath: '/etc/crontab' });
      expect(scan.changesSincePrevious).toEqual(expect.arrayContaining([
        { kind: 'privilege-changed', subject: 'user002', privileged: true, before: 'LinuxUser', after: 'Administrator' },
        expect.objectContaining({ kind: 'account-removed', subject: 'user004', privileged: false }),
        expect.objectContaining({ kind: 'service-added', subject: 'backdoor.service' }),
        expect.objectContaining({ kind: 'host-key-changed', privileged: true }),
      ]));
    });

    it("says how the host key is trusted: the first one seen, and a different one kept aside under ErrorOnThumbprintMismatch", async () => {
      const q = 'query($id: ID!) { host(id: $id) { sshHostKey { policy acceptOnFirstContact trustedFingerprint trustedAlgorithm presentedFingerprint state } } }';
      expect((await gql(t.url, appToken(), q, { id: HOSTS.alpha.id })).body.data.host.sshHostKey).toEqual({
        policy: 'ErrorOnThumbprintMismatch', acceptOnFirstContact: true, trustedFingerprint: 'SHA256:first', trustedAlgorithm: 'ssh-ed25519',
        presentedFingerprint: 'SHA256:second', state: 'mismatch',
      });
      expect((await gql(t.url, appToken(), q, { id: HOSTS.beta.id })).body.data.host.sshHostKey).toMatchObject({ trustedFingerprint: null, state: 'unknown' });
    });

    it('answers null for a host never scanned with credentials', async () => {
      const { body } = await gql(t.url, admin, LATEST, { id: HOSTS.beta.id });
      expect(body.errors).toBeUndefined();
      expect(body.data.host).toEqual({ name: 'beta', latestScan: null });
    });

    it('pages a host\'s scans newest first with opaque cursors', async () => {
      const q = `query($id: ID!, $after: String) { host(id: $id) { scans(first: 1, after: $after) { nodes { sshHostKeyFingerprint } pageInfo { hasNextPage endCursor } } } }`;
      const one = (await gql(t.url, admin, q, { id: HOSTS.alpha.id })).body.data.host.scans;
      expect(one).toMatchObject({ nodes: [{ sshHostKeyFingerprint: 'SHA256:second' }], pageInfo: { hasNextPage: true } });
      const two = (await gql(t.url, admin, q, { id: HOSTS.alpha.id, after: one.pageInfo.endCursor })).body.data.host.scans;
      expect(two).toEqual({ nodes: [{ sshHostKeyFingerprint: 'SHA256:first' }], pageInfo: { hasNextPage: false, endCursor: expect.any(String) } });
    });

    it('reads a page of hosts with users and groups in the same few store calls whatever its size', async () => {
      const counter = countStoreCalls(t.gateway.store);
      const sizes = new Map<number, string[]>();
      for (const first of [1, 10, 100]) {
        counter.reset();
        const { body } = await gql(t.url, admin, PAGE, { first });
        expect(body.errors).toBeUndefined();
        expect(body.data.hosts.nodes).toHaveLength(first);
        sizes.set(first, [...counter.calls].sort());
      }
      const scanned = (await gql(t.url, admin, PAGE, { first: 100 })).body.data.hosts.nodes.filter((h: { latestScan: unknown }) => h.latestScan);
      expect(scanned.length).toBeGreaterThan(90);
      expect(scanned[0].latestScan.users[0].groups).toBeInstanceOf(Array);
      // hosts.list, then one read each of latest snapshots, users and groups.
      expect(sizes.get(100)).toEqual(['hosts.list', 'inventory.groups', 'inventory.latestOf', 'inventory.users']);
      expect(sizes.get(10)).toEqual(sizes.get(100));
      expect(sizes.get(1)).toEqual(sizes.get(100));
    });

    it('reads the first page of every host\'s scans in one store call whatever the page size', async () => {
      const q = `query($first: Int!) { hosts(first: $first) { nodes { name scans(first: 1) { nodes { sshHostKeyFingerprint } pageInfo { hasNextPage } } } } }`;
      const counter = countStoreCalls(t.gateway.store);
      const calls = new Map<number, string[]>();
      for (const first of [1, 100]) {
        counter.reset();
        const { body } = await gql(t.url, admin, q, { first });
        expect(body.errors).toBeUndefined();
        calls.set(first, [...counter.calls].sort());
        if (first === 100) {
          const alpha = body.data.hosts.nodes.find((h: { name: string }) => h.name === 'alpha');
          expect(alpha.scans).toEqual({ nodes: [{ sshHostKeyFingerprint: 'SHA256:second' }], pageInfo: { hasNextPage: true } });
          expect(body.data.hosts.nodes.find((h: { name: string }) => h.name === 'beta').scans).toEqual({ nodes: [], pageInfo: { hasNextPage: false } });
        }
      }
      expect(calls.get(100)).toEqual(['hosts.list', 'inventory.newestOf']);
      expect(calls.get(1)).toEqual(calls.get(100));
    });

    it('lets App read, refuses other roles and unauthenticated callers', async () => {
      expect((await gql(t.url, appToken(), PAGE, { first: 2 })).body.errors).toBeUndefined();
      const reviewer = await gql(t.url, token({ roles: ['Reviewer'] }), LATEST, { id: HOSTS.alpha.id });
      expect(reviewer.body.errors[0].extensions.code).toBe('FORBIDDEN');
      expect(reviewer.body.data?.host ?? null).toBeNull();
      const anonymous = await gql(t.url, null, LATEST, { id: HOSTS.alpha.id });
      expect(anonymous.status).toBe(401);
    });

    const SCANS = 'query($id: ID!, $first: Int!, $after: String) { host(id: $id) { scans(first: $first, after: $after) { nodes { id } } } }';
    it.each<[string, { first?: number; after?: string }, string]>([
      ['a huge first', { first: 100_000 }, 'first'],
      ['a zero first', { first: 0 }, 'first'],
      ['a cursor from elsewhere', { after: 'bm90LWEtY3Vyc29y' }, 'after'],
      ['a host cursor', { after: Buffer.from(`host:${HOSTS.alpha.id}:alpha`).toString('base64url') }, 'after'],
      ['a snapshot cursor with SQL in it', { after: Buffer.from("snapshot:1' OR '1'='1").toString('base64url') }, 'after'],
      ['a 2 KB cursor', { after: 'A'.repeat(2048) }, 'after'],
    ])('refuses %s with a clear error', async (_name, args, key) => {
      const { body } = await gql(t.url, admin, SCANS, { id: HOSTS.alpha.id, first: 10, ...args });
      expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { [key]: [expect.any(String)] } });
    });

    it('refuses selections nested past the depth limit before running them', async () => {
      const deep = `{ hosts { nodes { latestScan { users { groups { members { user { groups { name } } } } } } } } }`;
      const { status, body } = await gql(t.url, admin, deep);
      expect(status).toBe(400);
      expect(body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    });
  });
}

describe('inventory lists count toward the cost limit', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ HOSTS_FILE: hostsFile() }, { runner: false });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('prices a list without `first` at its declared size, so a big page of nested lists is refused', async () => {
    const { status, body } = await gql(t.url, adminToken(), PAGE, { first: 1000 });
    expect(status).toBe(400);
    expect(body.errors[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(body.errors[0].message).toMatch(/^Query cost \d+ exceeds the limit of 50000\.$/);
    // One host's inventory fits the default limit.
    const one = await gql(t.url, adminToken(), LATEST, { id: HOSTS.alpha.id });
    expect(one.body.errors).toBeUndefined();
  });
});
