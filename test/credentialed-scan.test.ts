import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserPrivilege } from '../src/inventory';
import { gatewayBackends } from './support/backends';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { call } from './support/http';
import { inventorySshdAvailable, startInventorySshd, type InventorySshd } from './support/inventory-sshd';
import { waitForJob } from './support/jobs';
import { startSshd } from './support/sshd';
import { adminToken, appToken } from './support/tokens';

// End to end: credentials made over GraphQL, hosts pointed at them, scans scheduled over GraphQL and run
// by the real gateway against Debian's sshd over the fixture /etc (test/support/inventory-sshd.ts), on
// both stores. Every body, log line and metric the suite sees is searched for every secret at the end.

const HOST_FIELDS = 'id name credentialName credentialId sshTrust acceptKeyOnFirstContact sshHostKeyFingerprint sshHostKeyPresented sshHostKeyTrust';
const CREDENTIAL_FIELDS = 'id name kind username hostCount hosts { id name } createdAt updatedAt';

for (const backend of gatewayBackends) {
  describe.skipIf(!backend.available || !inventorySshdAvailable())(`credentialed scans end to end (${backend.name})`, () => {
    let t: TestGateway;
    let sshd: InventorySshd;
    let other: { port: number; close(): Promise<void> };
    let drop: () => Promise<void>;
    /** Every GraphQL and REST body this suite received, searched for secrets at the end. */
    const bodies: string[] = [];
    const secrets: string[] = [];
    const admin = adminToken();

    const api = async (query: string, variables?: Record<string, unknown>, token = admin) => {
      const res = await gql(t.url, token, query, variables);
      bodies.push(JSON.stringify(res.body));
      return res.body;
    };
    const ok = async (query: string, variables?: Record<string, unknown>) => {
      const body = await api(query, variables);
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const createCredential = async (input: Record<string, unknown>) =>
      (await ok(`mutation($input: CreateCredentialInput!) { createCredential(input: $input) { ${CREDENTIAL_FIELDS} } }`, { input })).createCredential;
    const upsertHost = async (host: Record<string, unknown>) =>
      (await ok(`mutation($hosts: [HostInput!]!) { upsertHosts(hosts: $hosts) { ${HOST_FIELDS} } }`, { hosts: [host] })).upsertHosts[0];
    const hostOf = async (id: string) => (await ok(`query($id: ID!) { host(id: $id) { ${HOST_FIELDS} } }`, { id })).host;
    /** Schedule over GraphQL, wait over REST, read the host's scan over GraphQL. */
    const scan = async (hostId: string) => {
      const { scheduleHostScans } = await ok('mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }', { ids: [hostId] });
      const jobId = scheduleHostScans[0].id;
      bodies.push(JSON.stringify(await waitForJob(t.url, jobId, admin, 60_000)));
      const { hostScanJob } = await ok('query($id: ID!) { hostScanJob(id: $id) { hostScanHostStatus { status statusDescription failureReason } } }', { id: jobId });
      return hostScanJob.hostScanHostStatus[0] as { status: string; statusDescription: string; failureReason: string };
    };
    /** sshd's log lines written while `f` ran. */
    const latestSnapshot = async (hostId: string) => {
      const [snapshot] = await t.gateway.store.inventory.latestOf([hostId]);
      if (!snapshot) return null;
      const [users, groups, services, tasks] = await Promise.all([
        t.gateway.store.inventory.users([snapshot.id]), t.gateway.store.inventory.groups([snapshot.id]),
        t.gateway.store.inventory.services([snapshot.id]), t.gateway.store.inventory.tasks([snapshot.id]),
      ]);
      return { snapshot, users, groups, services, tasks };
    };

    let password: { id: string; name: string };
    let hostId: string;

    beforeAll(async () => {
      const { env, drop: d } = await backend.env();
      drop = d;
      [sshd, other] = await Promise.all([startInventorySshd(), startSshd()]);
      secrets.push(sshd.scanner.password, sshd.scanner.passphrase, sshd.scanner.privateKey.split('\n')[2]!, sshd.rootKey.split('\n')[2]!);
      t = await startTestGateway({ ...env, SCAN_TIMEOUT_MS: '60000' });
    });
    afterAll(async () => {
      await t?.stop();
      await Promise.all([sshd?.close(), other?.close()]);
      await drop?.();
    });

    it('an Admin makes a password credential; App may not, nor read them', async () => {
      const forbidden = await api('mutation { createCredential(input: { name: "x", kind: SshPassword, username: "u", password: "app-made-secret" }) { id } }', undefined, appToken());
      expect(forbidden.errors[0].extensions.code).toBe('FORBIDDEN');
      expect((await api('{ credentials { nodes { id } } }', undefined, appToken())).errors[0].extensions.code).toBe('FORBIDDEN');
      secrets.push('app-made-secret');

      password = await createCredential({ name: 'fleet password', kind: 'SshPassword', username: 'scanner', password: sshd.scanner.password });
      expect(password).toMatchObject({ name: 'fleet password', kind: 'SshPassword', username: 'scanner', hostCount: 0, hosts: [] });
      const { credentials } = await ok(`{ credentials { nodes { ${CREDENTIAL_FIELDS} } pageInfo { hasNextPage } } }`);
      expect(credentials.nodes).toEqual([password]);
    });

    it('a host with a password credential is scanned: its accounts, groups, services and tasks are recorded', async () => {
      const host = await upsertHost({ name: 'linux-a', ipAddress: '127.0.0.1', sshPort: sshd.port, credentialName: 'fleet password', sshTrust: 'ErrorOnThumbprintMismatch' });
      hostId = host.id;
      expect(host).toMatchObject({ credentialName: 'fleet password', credentialId: password.id, sshTrust: 'ErrorOnThumbprintMismatch', acceptKeyOnFirstContact: true, sshHostKeyTrust: 'None' });

      const result = await scan(hostId);
      // As an unprivileged account /etc/shadow, sudoers and the cron spool are unread: completed with errors.
      expect(result).toMatchObject({ status: 'CompletedWithErrors', failureReason: 'NoError' });
      expect(result.statusDescription).toMatch(/^Completed with errors: Fixture Linux 12\.7; 21 accounts/);
      const recorded = (await latestSnapshot(hostId))!;
      expect(recorded.snapshot).toMatchObject({ os: 'Fixture Linux', version: '12.7', sshHostKey: sshd.hostKey.fingerprint });
      const user = (name: string) => recorded.users.find((u) => u.name === name);
      expect(user('root')).toMatchObject({ unixId: 0, privilege: UserPrivilege.SuperUser });
      expect(user('toor')).toMatchObject({ unixId: 0, privilege: UserPrivilege.SuperUser });
      expect(user('alice')).toMatchObject({ privilege: UserPrivilege.Administrator, privilegeReasons: ['member of sudo'] });
      expect(user('carol')).toMatchObject({ privilege: UserPrivilege.LinuxUser });
      expect(recorded.groups.find((g) => g.name === 'sudo')?.members).toContain('alice');
      expect(recorded.services.map((s) => s.name)).toContain('webapp.service');
      expect(recorded.tasks.map((s) => s.command)).toContain('/usr/local/bin/backup --full');
      // First contact trusted the key, and the host shows it.
      expect(await hostOf(hostId)).toMatchObject({ sshHostKeyFingerprint: sshd.hostKey.fingerprint, sshHostKeyPresented: null, sshHostKeyTrust: 'Trusted' });
      const { credential } = await ok(`query($id: ID!) { credential(id: $id) { hostCount hosts { name } } }`, { id: password.id });
      expect(credential).toEqual({ hostCount: 1, hosts: [{ name: 'linux-a' }] });
    });

    it('logs in with a private key and its passphrase', async () => {
      const key = await createCredential({ name: 'fleet key', kind: 'SshPrivateKey', username: 'scanner', privateKey: sshd.scanner.privateKey, passphrase: sshd.scanner.passphrase });
      await upsertHost({ id: hostId, name: 'linux-a', ipAddress: '127.0.0.1', sshPort: sshd.port, credentialId: key.id });
      const { result, log } = await sshd.logDuring(() => scan(hostId), [/Accepted publickey for scanner/]);
      expect(result).toMatchObject({ status: 'CompletedWithErrors', failureReason: 'NoError' });
      expect(log).toMatch(/Accepted publickey for scanner/);
      expect((await latestSnapshot(hostId))!.users).toHaveLength(21);
    });

    it('a wrong password fails the scan with AccessDenied', async () => {
      await ok('mutation($id: ID!) { updateCredential(id: $id, input: { password: "definitely-not-it-7Q" }) { id } }', { id: password.id });
      secrets.push('definitely-not-it-7Q');
      await upsertHost({ id: hostId, name: 'linux-a', ipAddress: '127.0.0.1', sshPort: sshd.port, credentialName: 'fleet password' });
      const { result, log } = await sshd.logDuring(() => scan(hostId), [/Failed password for scanner/]);
      expect(result).toMatchObject({ status: 'Failed', failureReason: 'AccessDenied', statusDescription: `127.0.0.1:${sshd.port} refused the login of scanner` });
      expect(log).toMatch(/Failed password for scanner/);
      await ok('mutation($id: ID!, $p: String!) { updateCredential(id: $id, input: { password: $p }) { id } }', { id: password.id, p: sshd.scanner.password });
    });

    describe('a host whose key changed (it answered with another key before)', () => {
      let moved: string;
      beforeAll(async () => {
        // First contact on another server: its key becomes the trusted one (a scan without a credential).
        moved = (await upsertHost({ name: 'linux-moved', ipAddress: '127.0.0.1', sshPort: other.port })).id;
        expect(await scan(moved)).toMatchObject({ status: 'Complete' });
        const trusted = (await hostOf(moved)).sshHostKeyFingerprint;
        expect(trusted).toMatch(/^SHA256:/);
        expect(trusted).not.toBe(sshd.hostKey.fingerprint);
        // Now the same host answers from the fixture sshd, with its credential.
        await upsertHost({ id: moved, name: 'linux-moved', ipAddress: '127.0.0.1', sshPort: sshd.port, credentialName: 'fleet password' });
      });

      it('ErrorOnThumbprintMismatch fails before any credential is sent, naming both fingerprints', async () => {
        const trusted = (await hostOf(moved)).sshHostKeyFingerprint;
        const { result, log } = await sshd.logDuring(() => scan(moved), [
          /Connection from 127\.0\.0\.1 port \d+/, /KEX algorithms|kex: algorithm/, /Connection closed|Disconnected|Connection reset/,
        ]);
        expect(result).toMatchObject({ status: 'Failed', failureReason: 'FailedToConnect' });
        expect(result.statusDescription).toBe(
          `the host key of 127.0.0.1:${sshd.port} has changed: expected ${trusted}, got ${sshd.hostKey.fingerprint} (ssh-ed25519); no credential was sent`);
        // sshd saw the connection and the key exchange, and no authentication of any kind.
        expect(log).toMatch(/Connection from 127\.0\.0\.1 port \d+/);
        expect(log).toMatch(/KEX algorithms|kex: algorithm/);
        expect(log).not.toMatch(/userauth-request|Accepted|Failed|Postponed|userauth_pubkey|input_userauth/);
        expect(await hostOf(moved)).toMatchObject({ sshHostKeyFingerprint: trusted, sshHostKeyPresented: sshd.hostKey.fingerprint, sshHostKeyTrust: 'Changed' });
      });

      it('WarnOnThumbprintMismatch scans and flags the change', async () => {
        await upsertHost({ id: moved, name: 'linux-moved', ipAddress: '127.0.0.1', sshPort: sshd.port, sshTrust: 'WarnOnThumbprintMismatch' });
        const result = await scan(moved);
        expect(result).toMatchObject({ status: 'CompletedWithErrors', failureReason: 'NoError' });
        expect(result.statusDescription).toContain(`The SSH host key changed to ${sshd.hostKey.fingerprint} (trusted under WarnOnThumbprintMismatch)`);
        expect(await hostOf(moved)).toMatchObject({ sshHostKeyPresented: sshd.hostKey.fingerprint, sshHostKeyTrust: 'Changed' });
        expect((await latestSnapshot(moved))!.users.length).toBe(21);
      });

      it('an Admin accepts the presented key (only that one); then scans under Error work', async () => {
        const wrong = await api('mutation($h: ID!, $f: String!) { acceptHostKey(hostId: $h, fingerprint: $f) { id } }', { h: moved, f: sshd.otherFingerprint });
        expect(wrong.errors[0]).toMatchObject({ extensions: { code: 'CONFLICT' }, message: `Host ${moved} presented ${sshd.hostKey.fingerprint}, not ${sshd.otherFingerprint}; nothing was trusted.` });
        const byApp = await api('mutation($h: ID!, $f: String!) { acceptHostKey(hostId: $h, fingerprint: $f) { id } }', { h: moved, f: sshd.hostKey.fingerprint }, appToken());
        expect(byApp.errors[0].extensions.code).toBe('FORBIDDEN');
        const { acceptHostKey } = await ok(`mutation($h: ID!, $f: String!) { acceptHostKey(hostId: $h, fingerprint: $f) { ${HOST_FIELDS} } }`, { h: moved, f: sshd.hostKey.fingerprint });
        expect(acceptHostKey).toMatchObject({ sshHostKeyFingerprint: sshd.hostKey.fingerprint, sshHostKeyPresented: null, sshHostKeyTrust: 'Trusted' });
        await upsertHost({ id: moved, name: 'linux-moved', ipAddress: '127.0.0.1', sshPort: sshd.port, sshTrust: 'ErrorOnThumbprintMismatch' });
        expect(await scan(moved)).toMatchObject({ status: 'CompletedWithErrors', failureReason: 'NoError' });
      });
    });

    it('AlwaysTrustIgnoreThumbprint logs in to a host whose key changed, scans Complete, and trusts the new key', async () => {
      // The fixture without its unread sudoers include, so that root reads everything: a scan with no notes.
      const clean = await startInventorySshd({ edit: (root) => {
        const sudoers = join(root, 'etc', 'sudoers');
        writeFileSync(sudoers, readFileSync(sudoers, 'utf8').replace('#include /etc/sudoers.local\n', ''));
      } });
      try {
        secrets.push(clean.rootKey.split('\n')[2]!);
        // First contact on another server, without a credential: its key becomes the trusted one.
        const always = (await upsertHost({ name: 'linux-always', ipAddress: '127.0.0.1', sshPort: other.port })).id;
        expect(await scan(always)).toMatchObject({ status: 'Complete' });
        const before = (await hostOf(always)).sshHostKeyFingerprint;
        expect(before).toMatch(/^SHA256:/);
        expect(before).not.toBe(clean.hostKey.fingerprint);
        // Now it answers from the fixture's sshd, with another key, logged into as root.
        const root = await createCredential({ name: 'fleet root', kind: 'SshPrivateKey', username: 'root', privateKey: clean.rootKey });
        await upsertHost({ id: always, name: 'linux-always', ipAddress: '127.0.0.1', sshPort: clean.port, credentialId: root.id, sshTrust: 'AlwaysTrustIgnoreThumbprint' });
        const result = await scan(always);
        expect(result, result.statusDescription).toMatchObject({ status: 'Complete', failureReason: 'NoError' });
        expect(result.statusDescription).toContain(`The SSH host key changed to ${clean.hostKey.fingerprint} (trusted under AlwaysTrustIgnoreThumbprint)`);
        expect((await latestSnapshot(always))!.snapshot.sshHostKey).toBe(clean.hostKey.fingerprint);
        expect(await hostOf(always)).toMatchObject({ sshHostKeyFingerprint: clean.hostKey.fingerprint, sshHostKeyPresented: null, sshHostKeyTrust: 'Trusted' });
        // The new key is the trusted one: under ErrorOnThumbprintMismatch the next scan passes the key check.
        await upsertHost({ id: always, name: 'linux-always', ipAddress: '127.0.0.1', sshPort: clean.port, sshTrust: 'ErrorOnThumbprintMismatch' });
        expect(await scan(always)).toMatchObject({ status: 'Complete', failureReason: 'NoError' });
        expect(clean.log().match(/Accepted publickey for root/g)).toHaveLength(2);
      } finally {
        await clean.close();
      }
    });

    it('a credential hosts use is not deleted (CONFLICT naming how many); one no host uses is', async () => {
      const inUse = await api('mutation($id: ID!) { deleteCredential(id: $id) }', { id: password.id });
      expect(inUse.errors[0]).toMatchObject({ extensions: { code: 'CONFLICT' }, message: expect.stringMatching(/is used by 2 hosts/) });
      const spare = await createCredential({ name: 'spare', kind: 'SshPassword', username: 'nobody', password: 'spare-secret-9x' });
      secrets.push('spare-secret-9x');
      expect((await ok('mutation($id: ID!) { deleteCredential(id: $id) }', { id: spare.id })).deleteCredential).toBe(true);
    });

    it('no secret appears in any log line, GraphQL or REST body, audit export or metric', async () => {
      bodies.push((await call(`${t.url}/api/v1/HostScanJob`, { token: admin })).text);
      bodies.push((await call(`${t.url}/api/v1/audit/export`, { token: admin })).text);
      const metrics = (await call(`${t.url}/metrics`)).text;
      const everything = [...t.logs, ...bodies, metrics].join('\n');
      expect(bodies.length).toBeGreaterThan(20);
      expect(t.logs.length).toBeGreaterThan(5);
      for (const secret of secrets) {
        expect(secret.length).toBeGreaterThan(8);
        expect(everything).not.toContain(secret);
      }
      // The audit trail has the credential changes, by name, without secrets.
      expect(bodies.at(-1)).toContain('"action":"credential.create"');
    });
  });
}
