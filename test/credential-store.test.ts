import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEntry } from '../src/audit';
import { CredentialKind, type Resealers, type Store } from '../src/store';
import { SecretKey, type Sealed } from '../src/secrets';
import { backends } from './support/backends';
import { ADMIN } from './support/principals';
import { sqlOf } from './support/sql';

// The credential store's contract, on every store (the store-contract pattern).

const KEY_A = 'SHA256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const KEY_B = 'SHA256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

for (const backend of backends) {
  describe.skipIf(!backend.available)(`credential store: ${backend.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
    });
    afterAll(() => cleanup());

    const key = SecretKey.generate();
    const create = async (name = `cred-${randomUUID()}`, secret = `pw-${randomUUID()}`) => {
      const id = randomUUID();
      const written = await store.credentials.create({ id, name, kind: CredentialKind.SshPassword, username: 'scanner', sealed: key.seal(id, secret) });
      if (!('credential' in written)) throw new Error('name taken');
      return { ...written.credential, secret };
    };
    const rows = async (id: string) =>
      (await sqlOf(store).query<{ secret: string; key_id: string }>('SELECT secret, key_id FROM credentials WHERE id = $1', [id]))[0]!;
    const auditCount = async (action: string) =>
      (await sqlOf(store).query<{ n: number }>('SELECT count(*)::int AS n FROM audit_records WHERE action = $1', [action]))[0]!.n;

    it('creates, reads and lists credentials without their secrets; the secret is stored sealed', async () => {
      const c = await create('Linux fleet', 'the-password-123');
      expect(c).toMatchObject({ name: 'Linux fleet', kind: CredentialKind.SshPassword, username: 'scanner', hostCount: 0 });
      expect(await store.credentials.get(c.id)).toEqual({ id: c.id, name: 'Linux fleet', kind: CredentialKind.SshPassword, username: 'scanner', hostCount: 0, createdAt: c.createdAt, updatedAt: c.updatedAt });
      const row = await rows(c.id);
      expect(row.secret).not.toContain('the-password-123');
      expect(row.key_id).toBe(key.keyId);
      const sealed = await store.credentials.sealed(c.id);
      expect(key.open(c.id, sealed!.sealed).toString()).toBe('the-password-123');
      expect(JSON.stringify(await store.credentials.list({ limit: 1000 }))).not.toContain(row.secret);
    });

    it('refuses a name another credential has, in any case', async () => {
      const c = await create();
      const id = randomUUID();
      expect(await store.credentials.create({ id, name: c.name.toUpperCase(), kind: CredentialKind.SshPassword, username: 'x', sealed: key.seal(id, 'x') })).toEqual({ nameTaken: true });
      const other = await create();
      expect(await store.credentials.update(other.id, { name: c.name })).toEqual({ nameTaken: true });
    });

    it('updates what is given and keeps the rest; records the change in the audit trail with it', async () => {
      const c = await create();
      const before = await auditCount('credential.update');
      const sealed = key.seal(c.id, 'new-secret');
      const updated = await store.credentials.update(c.id, { username: 'root', sealed }, auditEntry(ADMIN, 'credential.update', c.id));
      expect(updated).toMatchObject({ credential: { id: c.id, name: c.name, username: 'root' } });
      expect(key.open(c.id, (await store.credentials.sealed(c.id))!.sealed).toString()).toBe('new-secret');
      expect(await auditCount('credential.update')).toBe(before + 1);
      expect(await store.credentials.update(randomUUID(), { username: 'x' })).toBeNull();
    });

    it('pages by name and resolves references by id or name', async () => {
      const prefix = `page-${randomUUID().slice(0, 8)}`;
      const made = await Promise.all(['c', 'a', 'B'].map((n) => create(`${prefix}-${n}`)));
      const all = (await store.credentials.list({ limit: 10_000 })).filter((c) => c.name.startsWith(prefix));
      expect(all.map((c) => c.name)).toEqual([`${prefix}-a`, `${prefix}-B`, `${prefix}-c`]);
      const first = await store.credentials.list({ limit: 1, after: { name: `${prefix}-a`, id: all[0]!.id } });
      expect(first[0]?.name).toBe(`${prefix}-B`);
      const resolved = await store.credentials.resolve([`${prefix.toUpperCase()}-A`, made[0]!.id.toUpperCase(), 'nobody']);
      expect(resolved).toEqual(new Map([[`${prefix.toUpperCase()}-A`, made[1]!.id], [made[0]!.id.toUpperCase(), made[0]!.id]]));
    });

    it('hosts reference a credential; one in use is not removed, and says by how many hosts', async () => {
      const c = await create();
      const { hosts } = await store.hosts.upsert([
        { name: `h-${randomUUID()}`, credentialId: c.id, sshTrust: 1, acceptKeyOnFirstContact: false },
        { name: `h-${randomUUID()}`, credentialId: c.id },
      ]);
      expect(hosts![0]).toMatchObject({ credentialId: c.id, credentialName: c.name, sshTrust: 1, acceptKeyOnFirstContact: false, sshHostKey: null });
      expect(hosts![1]).toMatchObject({ credentialId: c.id, sshTrust: 2, acceptKeyOnFirstContact: true });
      expect((await store.credentials.get(c.id))!.hostCount).toBe(2);
      expect((await store.credentials.hostsUsing([c.id], 1)).get(c.id)).toHaveLength(1);

      expect(await store.credentials.remove(c.id, auditEntry(ADMIN, 'credential.remove', c.id))).toEqual({ removed: false, inUse: 2 });
      expect(await store.credentials.get(c.id)).not.toBeNull();
      // Upserting without a credential keeps the host's; null removes it.
      const [kept] = (await store.hosts.upsert([{ id: hosts![0]!.id, name: hosts![0]!.name }])).hosts!;
      expect(kept).toMatchObject({ credentialId: c.id, sshTrust: 1, acceptKeyOnFirstContact: false });
      await store.hosts.upsert(hosts!.map((h) => ({ id: h.id, name: h.name, credentialId: null })));
      const before = await auditCount('credential.remove');
      expect(await store.credentials.remove(c.id, auditEntry(ADMIN, 'credential.remove', c.id))).toEqual({ removed: true, inUse: 0 });
      expect(await auditCount('credential.remove')).toBe(before + 1);
      expect(await store.credentials.remove(c.id)).toEqual({ removed: false, inUse: 0 });
    });

    it('a host referencing a credential that does not exist is a conflict, and nothing is written', async () => {
      const name = `h-${randomUUID()}`;
      const result = await store.hosts.upsert([{ name, credentialId: randomUUID() }]);
      expect(result.conflicts?.get(0)).toMatch(/credential/);
      expect((await store.hosts.list({ limit: 10, search: name }))).toEqual([]);
    });

    it('accepts a presented host key only when it is the one named', async () => {
      const [host] = (await store.hosts.upsert([{ name: `h-${randomUUID()}` }])).hosts!;
      await sqlOf(store).query('UPDATE hosts SET ssh_host_key = $2, ssh_host_key_presented = $3 WHERE id = $1', [host!.id, KEY_A, KEY_B]);
      expect(await store.hosts.acceptHostKey(host!.id, KEY_A)).toEqual({ presented: KEY_B });
      expect(await store.hosts.acceptHostKey(randomUUID(), KEY_B)).toEqual({ unknown: true });
      const accepted = await store.hosts.acceptHostKey(host!.id, KEY_B, auditEntry(ADMIN, 'host.accept-key', host!.id));
      expect(accepted).toMatchObject({ accepted: { sshHostKey: KEY_B, sshHostKeyPresented: null } });
      expect(await store.hosts.acceptHostKey(host!.id, KEY_B)).toEqual({ presented: null });
    });

    it('rotates every sealed record (credentials, TOTP seeds, signing keys) in one transaction; one that does not open changes nothing', async () => {
      const made = await Promise.all([create(), create(), create()]);
      const next = SecretKey.generate();
      // TOTP seeds and signing keys are stored as `keyId:envelope`, sealed for a purpose (auth-secrets.ts).
      const sealText = (k: SecretKey, purpose: string, plain: string) => { const s = k.seal(purpose, plain); return `${s.keyId}:${s.envelope}`; };
      const openText = (k: SecretKey, purpose: string, text: string) => {
        const at = text.indexOf(':');
        return k.open(purpose, { keyId: text.slice(0, at), envelope: text.slice(at + 1) }).toString();
      };
      const reseal = (from: SecretKey, to: SecretKey): Resealers => ({
        credential: (id, sealed) => to.seal(id, from.open(id, sealed)),
        totpSeed: (_id, text) => sealText(to, 'totp-seed', openText(from, 'totp-seed', text)),
        signingKey: (_kid, text) => sealText(to, 'token-signing-key', openText(from, 'token-signing-key', text)),
      });
      const userId = randomUUID();
      await store.accounts.createUser({ id: userId, login: `rot-${userId}`, displayName: null, passwordHash: 'x', roles: ['Admin'] }, auditEntry(ADMIN, 'user.create', userId));
      await store.accounts.updateUser(userId, { totpSeed: sealText(key, 'totp-seed', 'SEEDSEEDSEED') }, auditEntry(ADMIN, 'totp.enrol', userId));
      const kid = `kid-${randomUUID()}`;
      await store.signingKeys.addFirst({ kid, publicJwk: {}, privateSealed: sealText(key, 'token-signing-key', '{"d":"private"}'), signsFrom: new Date() });
      const [signing] = await store.signingKeys.list();
      const sealedAll = async () => ({
        creds: await Promise.all(made.map((c) => rows(c.id))),
        seed: (await store.accounts.user(userId))!.totpSeed!,
        keys: (await store.signingKeys.list()).map((k) => k.privateSealed),
      });

      // One record of each kind in turn sealed under a third key: the rotation fails whole.
      const stray = SecretKey.generate();
      const strayId = made[2]!.id;
      await store.credentials.update(strayId, { sealed: stray.seal(strayId, made[2]!.secret) });
      let before = await sealedAll();
      await expect(store.credentials.rotateKey(reseal(key, next))).rejects.toThrow(/sealed with key/);
      expect(await sealedAll()).toEqual(before);
      await store.credentials.update(strayId, { sealed: key.seal(strayId, made[2]!.secret) });
      await store.accounts.updateUser(userId, { totpSeed: sealText(stray, 'totp-seed', 'SEEDSEEDSEED') }, auditEntry(ADMIN, 'totp.enrol', userId));
      before = await sealedAll();
      await expect(store.credentials.rotateKey(reseal(key, next))).rejects.toThrow(/sealed with key/);
      expect(await sealedAll()).toEqual(before);
      await store.accounts.updateUser(userId, { totpSeed: sealText(key, 'totp-seed', 'SEEDSEEDSEED') }, auditEntry(ADMIN, 'totp.enrol', userId));

      const total = (await sqlOf(store).query<{ n: number }>('SELECT count(*)::int AS n FROM credentials'))[0]!.n;
      const rotations = await auditCount('credentials.rotate-key');
      const account = (await store.accounts.user(userId))!;
      expect(await store.credentials.rotateKey(reseal(key, next), auditEntry(ADMIN, 'credentials.rotate-key', null)))
        .toEqual({ credentials: total, totpSeeds: 1, signingKeys: 1 });
      expect(await auditCount('credentials.rotate-key')).toBe(rotations + 1);
      const keyIds = await sqlOf(store).query<{ key_id: string }>('SELECT DISTINCT key_id FROM credentials');
      expect(keyIds).toEqual([{ key_id: next.keyId }]);
      for (const c of made) {
        const { sealed } = (await store.credentials.sealed(c.id))!;
        expect(next.open(c.id, sealed).toString()).toBe(c.secret);
        expect(() => key.open(c.id, sealed)).toThrow();
      }
      const after = await sealedAll();
      expect(openText(next, 'totp-seed', after.seed)).toBe('SEEDSEEDSEED');
      expect(() => openText(key, 'totp-seed', after.seed)).toThrow();
      expect(after.keys.map((k) => openText(next, 'token-signing-key', k))).toEqual([openText(key, 'token-signing-key', signing!.privateSealed)]);
      // Re-sealing changes nothing else about the account or the key.
      const { totpSeed: _seed, ...unchanged } = account;
      expect(await store.accounts.user(userId)).toMatchObject(unchanged);
      const { privateSealed: _key, ...keyUnchanged } = signing!;
      expect((await store.signingKeys.list())[0]).toMatchObject(keyUnchanged);
      // Later tests in this file seal with `key` again.
      await store.credentials.rotateKey(reseal(next, key));
    });
  });
}
