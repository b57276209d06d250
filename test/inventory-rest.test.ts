import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceStartType, UserPrivilege } from '../src/inventory';
import { startTestGateway, type TestGateway } from './support/gateway';
import { HOSTS, hostsFile } from './support/hosts';
import { gql } from './support/graphql';
import { call } from './support/http';
import { recordSnapshots, syntheticSnapshot } from './support/inventory';
import { gatewayBackends } from './support/postgres';
import { adminToken, appToken, token } from './support/tokens';

// The vendor's inventory routes: shapes against the reference pages (Models/sbpam.models.hostscan*.md),
// paging as GET /api/v1/HostScanJob, ProblemDetails errors and roles, on both stores.

// The property tables of the vendor's reference pages, in their order.
const HOST_SCAN_HOST = ['id', 'name', 'dnsHostName', 'ipAddress', 'os', 'version', 'lsaLookupCache', 'lastUpdatedDateTimeUtc', 'hostId', 'credentialId',
  'platformId', 'lastScanTimeUtc', 'lastScanStartTimeUtc', 'hostScanUser', 'hostScanGroup', 'hostScanFeature', 'hostScanJobHostJoin', 'hostConnected',
  'netBiosName', 'nodeId', 'createdDateTimeUtc', 'modifiedDateTimeUtc'];
const HOST_SCAN_USER = ['id', 'name', 'displayName', 'samaccountname', 'lastLogonTimestamp', 'sid', 'passwordHash', 'passwordChangedDateTimeUtc',
  'passwordExpirationDateTimeUtc', 'unixId', 'unixGroupId', 'homeDirectory', 'shell', 'privilege', 'discoveredDateTimeUtc', 'userId', 'hostScanHostId',
  'hostScanHost', 'hostScanUserGroupJoin', 'resourceObjectId', 'isDisabled', 'nodeId', 'createdDateTimeUtc', 'modifiedDateTimeUtc'];
const HOST_SCAN_GROUP = ['id', 'name', 'sid', 'unixId', 'groupId', 'hostScanHostId', 'hostScanHost', 'hostScanUserGroupJoin', 'hostScanGroupGroupJoin',
  'resourceObjectId', 'nodeId', 'createdDateTimeUtc', 'modifiedDateTimeUtc'];
const HOST_SCAN_SERVICE = ['id', 'name', 'displayName', 'description', 'startType', 'userName', 'binaryPathName', 'dependentServices', 'canPauseAndContinue',
  'canShutdown', 'canStop', 'serviceType', 'delayedStart', 'nodeId', 'createdDateTimeUtc', 'modifiedDateTimeUtc', 'discoveredDateTimeUtc', 'hostScanHostId',
  'hostScanHost', 'hostObjectId'];
const sorted = (keys: string[]) => [...keys].sort();
const API = '/api/v1/HostScanJob';

for (const backend of gatewayBackends()) {
  describe.skipIf(!backend.available)(`inventory REST routes (${backend.name})`, () => {
    let t: TestGateway;
    let drop: () => Promise<void>;
    let alphaSnapshot: string;
    let credentialId: string;
    const get = (path: string, tok: string | null = adminToken()) => call(`${t.url}${API}${path}`, { token: tok });

    beforeAll(async () => {
      const { env, drop: d } = await backend.env();
      drop = d;
      t = await startTestGateway({ HOSTS_FILE: hostsFile(), ...env }, { runner: false });
      await recordSnapshots(t.gateway.store, [{ hostId: HOSTS.alpha.id, snapshot: syntheticSnapshot() }, { hostId: HOSTS.gamma.id, snapshot: syntheticSnapshot({ users: 3, groups: 2 }) }]);
      const [update] = await recordSnapshots(t.gateway.store, [{ hostId: HOSTS.alpha.id, snapshot: syntheticSnapshot() }]);
      alphaSnapshot = update!.snapshotId;
      // alpha logs in with a credential (made after its scans: the snapshot gives the host's credential now).
      const made = await gql(t.url, adminToken(), 'mutation { createCredential(input: { name: "rest-cred", kind: SshPassword, username: "u", password: "rest-cred-pw" }) { id } }');
      credentialId = made.body.data.createCredential.id;
      const pointed = await gql(t.url, adminToken(), 'mutation($hosts: [HostInput!]!) { upsertHosts(hosts: $hosts) { credentialId } }',
        { hosts: [{ id: HOSTS.alpha.id, name: 'alpha', ipAddress: HOSTS.alpha.ipAddress, credentialName: 'rest-cred' }] });
      expect(pointed.body.data.upsertHosts).toEqual([{ credentialId }]);
    }, 60_000);
    afterAll(async () => {
      await t?.stop();
      await drop?.();
    });

    it('GET /Host lists scanned hosts by name in the vendor HostScanHost shape, with accounts and groups', async () => {
      const res = await get('/Host');
      expect(res.status).toBe(200);
      expect(res.json.map((h: { name: string }) => h.name)).toEqual(['alpha', 'gamma']);
      expect(res.json[1].credentialId).toBeNull();
      const alpha = res.json[0];
      expect(sorted(Object.keys(alpha))).toEqual(sorted([...HOST_SCAN_HOST, 'hostScanService', 'hostScanScheduledTask']));
      expect(alpha).toMatchObject({ id: alphaSnapshot, hostId: HOSTS.alpha.id, credentialId, os: 'Debian GNU/Linux', version: '12', dnsHostName: 'synthetic.test', hostConnected: true,
        nodeId: t.gateway.store.nodeId, hostScanService: null, hostScanScheduledTask: null });
      const root = alpha.hostScanUser[0];
      expect(sorted(Object.keys(root))).toEqual(sorted(HOST_SCAN_USER));
      expect(root).toMatchObject({ name: 'root', sid: null, passwordHash: null, unixId: 0, unixGroupId: 0, homeDirectory: '/root', privilege: UserPrivilege.SuperUser,
        isDisabled: false, hostScanHostId: alphaSnapshot, hostScanUserGroupJoin: [] });
      expect(root.privilege).toBe(5); // SuperUser is the vendor enum's sixth value
      const admin = alpha.hostScanUser.find((u: { name: string }) => u.name === 'user001');
      expect(admin.privilege).toBe(1); // Administrator
      expect(admin.hostScanUserGroupJoin.map((j: any) => [j.hostScanUserId, j.hostScanGroup.name])).toEqual([[admin.id, 'group001'], [admin.id, 'sudo']]);
      const sudo = alpha.hostScanGroup.find((g: { name: string }) => g.name === 'sudo');
      expect(sorted(Object.keys(sudo))).toEqual(sorted(HOST_SCAN_GROUP));
      expect(sudo).toMatchObject({ sid: null, unixId: 27, hostScanGroupGroupJoin: [], hostScanUserGroupJoin: [{ hostScanUserId: admin.id, hostScanGroupId: sudo.id, hostScanUser: { name: 'user001', unixId: 1001 } }] });
    });

    it('pages GET /Host and GET /User with skip and take as GET /HostScanJob does', async () => {
      expect((await get('/Host?skip=1&take=1')).json.map((h: { name: string }) => h.name)).toEqual(['gamma']);
      expect((await get('/Host?skip=2')).json).toEqual([]);
      const users = (await get('/User')).json;
      expect(users.map((u: { name: string }) => u.name)).toEqual(['root', 'user001', 'user002', 'user003', 'user004', 'root', 'user001', 'user002']);
      expect((await get('/User?skip=5&take=2')).json.map((u: { hostScanHostId: string; name: string }) => u.name)).toEqual(['root', 'user001']);
      for (const query of ['take=0', 'take=1001', 'skip=-1', 'take=abc', 'skip=1.5']) {
        const res = await get(`/Host?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(Object.keys(res.json.errors)).toEqual([query.split('=')[0]]);
      }
    });

    it('GET /Host/{hostId} serves one host with its services (ServiceStartType as integers) and tasks, by host or snapshot id', async () => {
      const res = await get(`/Host/${HOSTS.alpha.id}`);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ id: alphaSnapshot, credentialId });
      const service = res.json.hostScanService[0];
      expect(sorted(Object.keys(service))).toEqual(sorted(HOST_SCAN_SERVICE));
      expect(service).toMatchObject({ name: 'unit000.service', startType: ServiceStartType.Automatic, userName: 'root', binaryPathName: '/usr/bin/unit0' });
      expect(service.startType).toBe(2);
      expect(res.json.hostScanService[1]).toMatchObject({ startType: 3, userName: 'svc1' }); // Manual
      expect(res.json.hostScanScheduledTask[0]).toMatchObject({ name: '/usr/local/bin/job0', source: 'crontab', taskPath: '/etc/crontab', userName: 'root' });
      expect((await get(`/Host/${alphaSnapshot}`)).json.id).toBe(alphaSnapshot);
    });

    it('GET /User/{userId} and /Group/{groupId} serve one account and one group; ids are stable across scans', async () => {
      const alpha = (await get(`/Host/${HOSTS.alpha.id}`)).json;
      const admin = alpha.hostScanUser.find((u: { name: string }) => u.name === 'user001');
      const user = await get(`/User/${admin.id}`);
      expect(user.status).toBe(200);
      expect(user.json).toEqual(admin);
      const sudo = alpha.hostScanGroup.find((g: { name: string }) => g.name === 'sudo');
      const group = await get(`/Group/${sudo.id}`);
      expect(group.status).toBe(200);
      expect(group.json).toEqual(sudo);
    });

    it.each<[string, number, string | null]>([
      [`/Host/not-a-guid`, 400, 'hostId'],
      [`/Host/${HOSTS.beta.id}`, 404, null],
      [`/Host/${randomUUID()}`, 404, null],
      [`/User/12345`, 400, 'userId'],
      [`/User/${randomUUID()}`, 404, null],
      [`/Group/${'9'.repeat(40)}`, 400, 'groupId'],
      // Path parameters beyond the router's 100 characters.
      [`/Group/${'9'.repeat(300)}`, 414, null],
      [`/Group/${randomUUID()}`, 404, null],
      [`/User/SID/S-1-5-21-3623811015-3361044348-30300820-1013`, 404, null],
      [`/User/SID/${encodeURIComponent("S-1-5' OR 1=1 --")}`, 400, 'sid'],
      [`/User/SID/S-1-5-${'1-'.repeat(30)}1`, 400, 'sid'],
      [`/User/SID/${'S-1-5'.repeat(100)}`, 414, null],
    ])('GET %s answers %i ProblemDetails', async (path, status, key) => {
      const res = await get(path);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.json).toMatchObject({ status, traceId: expect.any(String) });
      if (key) expect(Object.keys(res.json.errors)).toEqual([key]);
    });

    it('lets App read; 401 without a token, 403 for other roles', async () => {
      const paths: [string, number][] = [['/Host', 200], [`/Host/${HOSTS.alpha.id}`, 200], ['/User', 200], ['/User/SID/S-1-5-18', 404], [`/Group/${randomUUID()}`, 404]];
      for (const [path, answer] of paths) {
        expect((await get(path, appToken())).status, path).toBe(answer);
        const anonymous = await get(path, null);
        expect(anonymous.status, path).toBe(401);
        expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect((await get(path, token({ roles: ['Reviewer'] }))).status, path).toBe(403);
      }
    });
  });
}

for (const backend of gatewayBackends()) {
  describe.skipIf(!backend.available)(`INVENTORY_SNAPSHOTS_KEPT (${backend.name})`, () => {
    it('keeps that many snapshots of a host, the newest', async () => {
      const { env, drop } = await backend.env();
      const t = await startTestGateway({ HOSTS_FILE: hostsFile(), INVENTORY_SNAPSHOTS_KEPT: '2', ...env }, { runner: false });
      try {
        const recorded: string[] = [];
        for (let i = 0; i < 3; i++) recorded.push((await recordSnapshots(t.gateway.store, [{ hostId: HOSTS.beta.id, snapshot: syntheticSnapshot() }]))[0]!.snapshotId);
        expect((await t.gateway.store.inventory.history(HOSTS.beta.id, 100, null)).map((s) => s.id)).toEqual(recorded.slice(1).reverse());
      } finally {
        await t.stop();
        await drop();
      }
    }, 60_000);
  });
}
