import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/auth';
import { auditEntry } from '../src/audit';
import { createSealer } from '../src/auth-secrets';
import { CredentialService, credentialVault } from '../src/credential-service';
import { AppError } from '../src/errors';
import { SecretKey } from '../src/secrets';
import { TOTP_SEED_PURPOSE } from '../src/totp';
import { CredentialKind, openStore, type Store } from '../src/store';
import { freshDataDir } from './support/gateway';
import { ADMIN } from './support/principals';
import { sqlOf } from './support/sql';

const APP: Principal = { subject: 'app', userName: 'app', roles: new Set(['App']), expiresAt: Date.now() + 3.6e6 };
const PASSWORD = 'svc-password-Zq8#tW4!vN2m';
const PASSPHRASE = 'key-passphrase-4f9T!x';
/** An OpenSSH ed25519 private key, sealed under `passphrase` when one is given, made here by ssh-keygen. */
function keyPair(passphrase = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'cred-key-'));
  try {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', join(dir, 'k')]);
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
    return readFileSync(join(dir, 'k'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const codeOf = async (p: Promise<unknown>) => p.then(() => 'OK', (err: unknown) => (err instanceof AppError ? err.code : `not an AppError: ${String(err)}`));
const errorOf = async (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (err: unknown) => err as AppError);

describe('CredentialService', () => {
  let store: Store;
  let dir: string;
  const key = SecretKey.generate();
  let service: CredentialService;
  beforeAll(async () => {
    dir = freshDataDir();
    store = await openStore({ databaseUrl: null, dataDir: dir });
    service = new CredentialService({ store, key });
  });
  afterAll(async () => {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is Admin only: App gets FORBIDDEN for every operation, and nothing is written', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const calls = [
      service.list(APP, {}),
      service.get(APP, { id }),
      service.create(APP, { name: 'x', kind: CredentialKind.SshPassword, username: 'u', password: PASSWORD }),
      service.update(APP, { id, password: PASSWORD }),
      service.remove(APP, { id }),
      service.acceptHostKey(APP, { hostId: id, fingerprint: 'SHA256:x' }),
      service.rotateKey(APP, SecretKey.generate()),
    ];
    expect(await Promise.all(calls.map(codeOf))).toEqual(Array(calls.length).fill('FORBIDDEN'));
    expect((await store.credentials.list({ limit: 10 })).length).toBe(0);
  });

  it('creates a password credential; the vault opens it for a scan; the audit trail has no secret', async () => {
    const c = await service.create(ADMIN, { name: ' Linux fleet ', kind: CredentialKind.SshPassword, username: 'scanner', password: PASSWORD });
    expect(c).toMatchObject({ name: 'Linux fleet', kind: CredentialKind.SshPassword, username: 'scanner', hostCount: 0 });
    expect(await credentialVault(store, key).reveal(c.id)).toEqual({ username: 'scanner', password: PASSWORD });
    const audit = await store.audit.list({ limit: 10, action: 'credential.create' });
    expect(audit[0]).toMatchObject({ subject: 'setup', target: c.id, details: { name: 'Linux fleet', kind: 'SshPassword', username: 'scanner' } });
    const everything = JSON.stringify(await sqlOf(store).query('SELECT * FROM audit_records')) + JSON.stringify(await sqlOf(store).query('SELECT * FROM credentials'));
    expect(everything).not.toContain(PASSWORD);
  });

  it('takes a private key with a passphrase, checking that it opens; a bad key is a clear error that does not echo it', async () => {
    const privateKey = keyPair(PASSPHRASE);
    const c = await service.create(ADMIN, { name: 'by key', kind: CredentialKind.SshPrivateKey, username: 'root', privateKey, passphrase: PASSPHRASE });
    expect(await credentialVault(store, key).reveal(c.id)).toEqual({ username: 'root', privateKey, passphrase: PASSPHRASE });
    const plain = await service.create(ADMIN, { name: 'by plain key', kind: CredentialKind.SshPrivateKey, username: 'root', privateKey: keyPair() });
    expect(await credentialVault(store, key).reveal(plain.id)).not.toHaveProperty('passphrase');

    const wrongPassphrase = await errorOf(service.create(ADMIN, { name: 'k2', kind: CredentialKind.SshPrivateKey, username: 'root', privateKey, passphrase: 'wrong-passphrase' }));
    expect(wrongPassphrase).toMatchObject({ code: 'BAD_INPUT', fieldErrors: { privateKey: [expect.stringMatching(/Not a private key that can be read/)] } });
    const garbage = '-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWxvb2tpbmctZ2FyYmFnZQ==\n-----END OPENSSH PRIVATE KEY-----';
    const bad = await errorOf(service.create(ADMIN, { name: 'k3', kind: CredentialKind.SshPrivateKey, username: 'root', privateKey: garbage }));
    expect(bad.code).toBe('BAD_INPUT');
    expect(JSON.stringify([bad.message, bad.fieldErrors])).not.toMatch(/c2VjcmV0|wrong-passphrase/);
    expect(JSON.stringify([wrongPassphrase.message, wrongPassphrase.fieldErrors])).not.toContain('wrong-passphrase');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no name', { kind: CredentialKind.SshPassword, username: 'u', password: 'p' }, 'name'],
    ['a name with a control character', { name: 'a\u0007b', kind: CredentialKind.SshPassword, username: 'u', password: 'p' }, 'name'],
    ['a name that is not valid Unicode', { name: 'bad\uD800name', kind: CredentialKind.SshPassword, username: 'u', password: 'p' }, 'name'],
    ['an unknown kind', { name: 'n', kind: 7, username: 'u', password: 'p' }, 'kind'],
    ['no password', { name: 'n', kind: CredentialKind.SshPassword, username: 'u' }, 'password'],
    ['an oversized password', { name: 'n', kind: CredentialKind.SshPassword, username: 'u', password: 'P'.repeat(1025) }, 'password'],
    ['an oversized private key', { name: 'n', kind: CredentialKind.SshPrivateKey, username: 'u', privateKey: 'K'.repeat(16_385) }, 'privateKey'],
    ['a password on a key credential', { name: 'n', kind: CredentialKind.SshPrivateKey, username: 'u', privateKey: 'k', password: 'p' }, 'password'],
  ])('refuses %s with BAD_INPUT on that field, and stores nothing', async (_, input, field) => {
    const before = (await store.credentials.list({ limit: 1000 })).length;
    const err = await errorOf(service.create(ADMIN, input));
    expect(err.code).toBe('BAD_INPUT');
    expect(Object.keys(err.fieldErrors ?? {})).toContain(field);
    expect(JSON.stringify(err.fieldErrors)).not.toMatch(/PPPP|KKKK/);
    expect((await store.credentials.list({ limit: 1000 })).length).toBe(before);
  });

  it('updates the secret, name and user; a name taken is BAD_INPUT; an unknown id NOT_FOUND', async () => {
    const c = await service.create(ADMIN, { name: 'to update', kind: CredentialKind.SshPassword, username: 'a', password: 'first' });
    const u = await service.update(ADMIN, { id: c.id, username: 'b', password: 'second' });
    expect(u).toMatchObject({ name: 'to update', username: 'b' });
    expect(await credentialVault(store, key).reveal(c.id)).toEqual({ username: 'b', password: 'second' });
    expect(await codeOf(service.update(ADMIN, { id: c.id, name: 'LINUX FLEET' }))).toBe('BAD_INPUT');
    expect(await codeOf(service.update(ADMIN, { id: c.id, kind: CredentialKind.SshPrivateKey }))).toBe('BAD_INPUT');
    expect(await codeOf(service.update(ADMIN, { id: '00000000-0000-4000-8000-000000000000', username: 'x' }))).toBe('NOT_FOUND');
    const [audit] = await store.audit.list({ limit: 1, action: 'credential.update' });
    expect(audit!.details).toEqual({ name: 'to update', changed: ['username', 'secret'] });
  });

  it('refuses to remove a credential hosts use, naming how many; removes it once they do not', async () => {
    const c = await service.create(ADMIN, { name: 'in use', kind: CredentialKind.SshPassword, username: 'a', password: 'x' });
    const { hosts } = await store.hosts.upsert([{ name: 'uses-1', credentialId: c.id }, { name: 'uses-2', credentialId: c.id }]);
    const err = await errorOf(service.remove(ADMIN, { id: c.id }));
    expect(err).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/is used by 2 hosts/) });
    await store.hosts.upsert(hosts!.map((h) => ({ id: h.id, name: h.name, credentialId: null })));
    expect(await service.remove(ADMIN, { id: c.id })).toBe(true);
    expect(await codeOf(service.remove(ADMIN, { id: c.id }))).toBe('NOT_FOUND');
  });

  it('without a key (production without CREDENTIALS_KEY): reads work, storing fails UNAVAILABLE saying what to set', async () => {
    const keyless = new CredentialService({ store, key: null });
    expect((await keyless.list(ADMIN, {})).items.length).toBeGreaterThan(0);
    const err = await errorOf(keyless.create(ADMIN, { name: 'nokey', kind: CredentialKind.SshPassword, username: 'u', password: 'p' }));
    expect(err).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/CREDENTIALS_KEY is not set/) });
    const [any] = (await keyless.list(ADMIN, {})).items;
    await expect(credentialVault(store, null).reveal(any!.id)).rejects.toThrow(/CREDENTIALS_KEY is not set/);
  });

  it('refuses to rotate while a TOTP seed does not open with the key, naming the user and key ids only; nothing changes', async () => {
    const userId = randomUUID();
    await store.accounts.createUser({ id: userId, login: `stray-${userId}`, displayName: null, passwordHash: 'x', roles: ['Admin'] }, auditEntry(ADMIN, 'user.create', userId));
    const stray = SecretKey.generate();
    const plain = 'JBSWY3DPEHPK3PXPJBSWY3DP';
    const strayText = createSealer(stray).seal(plain, TOTP_SEED_PURPOSE);
    await store.accounts.updateUser(userId, { totpSeed: strayText }, auditEntry(ADMIN, 'totp.enrol', userId));
    const before = await sqlOf(store).query('SELECT id, secret, key_id FROM credentials ORDER BY id');
    const err = await errorOf(service.rotateKey(ADMIN, SecretKey.generate()));
    expect(err.message).toBe(`The TOTP seed of user ${userId} does not open with the configured key ${key.keyId} (it names key ${stray.keyId}); nothing was re-sealed.`);
    expect(await sqlOf(store).query('SELECT id, secret, key_id FROM credentials ORDER BY id')).toEqual(before);
    expect((await store.accounts.user(userId))!.totpSeed).toBe(strayText);
    await store.accounts.updateUser(userId, { totpSeed: null }, auditEntry(ADMIN, 'totp.reset', userId));
  });

  it('rotates the key: every credential opens with the new key only', async () => {
    const next = SecretKey.generate();
    const counts = await service.rotateKey(ADMIN, next);
    expect(counts.credentials).toBe((await store.credentials.list({ limit: 1000 })).length);
    const [c] = (await service.list(ADMIN, {})).items;
    await expect(credentialVault(store, key).reveal(c!.id)).rejects.toThrow(/configured key is/);
    expect(await credentialVault(store, next).reveal(c!.id)).toHaveProperty('username');
    service = new CredentialService({ store, key: next });
  });

  it('pages the list with opaque cursors and refuses forged ones', async () => {
    const first = await service.list(ADMIN, { first: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.hasMore).toBe(true);
    expect(await codeOf(service.list(ADMIN, { after: Buffer.from('credential:not-a-uuid:x').toString('base64url') }))).toBe('BAD_INPUT');
    expect(await codeOf(service.list(ADMIN, { first: 501 }))).toBe('BAD_INPUT');
  });
});
