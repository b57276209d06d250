import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountService } from '../src/accounts';
import { apiKeyMatches } from '../src/api-keys';
import { SecretKey } from '../src/secrets';
import { createSealer } from '../src/auth-secrets';
import type { Caller } from '../src/audit';
import { verifyPassword } from '../src/passwords';
import { openStore, type Store } from '../src/store';
import { freshDataDir } from './support/gateway';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { sqlOf } from './support/sql';

// Users and applications in both stores: secrets only ever stored hashed, every change audited.

const ADMIN: Caller = { subject: 'admin-1', userName: 'Ada', roles: new Set(['Admin']), expiresAt: Infinity, address: '127.0.0.1' };
const APP: Caller = { subject: 'app-1', userName: 'app', roles: new Set(['App']), expiresAt: Infinity };
const PASSWORD = 'correct horse battery staple';

const backends = [
  {
    name: 'embedded (PGlite)',
    available: true,
    async open() {
      const dir = freshDataDir();
      const store = await openStore({ databaseUrl: null, dataDir: dir });
      return { store, cleanup: async () => { await store.stop(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl() !== null,
    async open() {
      const db = await createDatabase();
      const store = await openStore({ databaseUrl: db.url, dataDir: '' });
      return { store, cleanup: async () => { await store.stop(); await db.drop(); } };
    },
  },
];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`accounts: ${backend.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    const revoked: [string, number][] = [];
    let accounts: AccountService;
    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
      accounts = new AccountService({ store, sealer: createSealer(new SecretKey(randomBytes(32))), onRevoked: (s, v) => revoked.push([s, v]) });
    });
    afterAll(() => cleanup());

    const allText = async () => JSON.stringify(await sqlOf(store).query(`SELECT * FROM gateway_users`)) + JSON.stringify(await sqlOf(store).query(`SELECT * FROM gateway_apps`)) + JSON.stringify(await sqlOf(store).query(`SELECT * FROM audit_records`));

    it('creates a user with an Argon2id hash, never the password, and audits it', async () => {
      const user = await accounts.createUser(ADMIN, { login: 'alice', password: PASSWORD, roles: ['Admin'] });
      expect(user).toMatchObject({ login: 'alice', roles: ['Admin'], disabled: false, totpEnrolled: false });
      expect(JSON.stringify(user)).not.toMatch(/argon|hash|seed/i);
      const stored = (await store.accounts.userByLogin('ALICE'))!;
      expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(await verifyPassword(stored.passwordHash, PASSWORD)).toBe(true);
      expect(await verifyPassword(stored.passwordHash, `${PASSWORD}!`)).toBe(false);
      expect(await allText()).not.toContain(PASSWORD);
      expect((await store.audit.list({ limit: 10, action: 'user.create' }))[0]).toMatchObject({ subject: 'admin-1', target: user.id, details: { login: 'alice', roles: ['Admin'] } });
    });

    it('refuses a taken login in any case, bad input and non-Admins, and changes nothing', async () => {
      const before = await allText();
      await expect(accounts.createUser(ADMIN, { login: 'Alice', password: PASSWORD, roles: ['Admin'] })).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(accounts.createUser(ADMIN, { login: 'bob', password: 'short', roles: [] })).rejects.toMatchObject({ code: 'BAD_INPUT', fieldErrors: { password: expect.any(Array) } });
      await expect(accounts.createUser(ADMIN, { login: 'CORP\\bob', password: PASSWORD, roles: [] })).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(accounts.createUser(ADMIN, { login: 'bob', password: PASSWORD, roles: ['Root'] })).rejects.toMatchObject({ code: 'BAD_INPUT' });
      await expect(accounts.createUser(APP, { login: 'bob', password: PASSWORD, roles: [] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect(await allText()).toBe(before);
    });

    it('changes roles, password and disabled state, revoking live tokens', async () => {
      const user = await accounts.createUser(ADMIN, { login: 'carol', password: PASSWORD, roles: ['App'] });
      expect((await accounts.setRoles(ADMIN, user.id, ['Admin', 'App'])).roles).toEqual(['Admin', 'App']);
      await accounts.resetPassword(ADMIN, user.id, 'another long password');
      expect(await verifyPassword((await store.accounts.user(user.id))!.passwordHash, 'another long password')).toBe(true);
      expect((await accounts.setDisabled(ADMIN, user.id, true)).disabled).toBe(true);
      expect(revoked.filter(([s]) => s === user.id).map(([, v]) => v)).toEqual([1, 2, -1]);
      expect((await store.accounts.tokenVersions()).get(user.id)).toBe(-1);
      expect((await accounts.setDisabled(ADMIN, user.id, false)).disabled).toBe(false);
      expect((await store.accounts.tokenVersions()).get(user.id)).toBe(3);
      expect(revoked.filter(([s]) => s === user.id).map(([, v]) => v)).toEqual([1, 2, -1, 3]);
      await expect(accounts.setDisabled(ADMIN, '00000000-0000-4000-8000-000000000000', true)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await accounts.deleteUser(ADMIN, user.id)).toBe(true);
      expect(await store.accounts.user(user.id)).toBeNull();
      const actions = (await store.audit.list({ limit: 20, subject: 'admin-1' })).filter((r) => r.target === user.id).map((r) => r.action);
      expect(actions.reverse()).toEqual(['user.create', 'user.roles', 'user.password-reset', 'user.disable', 'user.enable', 'user.delete']);
    });

    it('creates an application with a prefixed 256-bit key stored as a hash, and rotates it', async () => {
      const { app, apiKey } = await accounts.createApp(ADMIN, { name: 'scanner-bot' });
      expect(apiKey).toMatch(/^sgk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
      expect(apiKey.slice(4, 12)).toBe(app.keyPrefix);
      expect(JSON.stringify(app)).not.toContain(apiKey);
      const stored = (await store.accounts.appByName('Scanner-Bot'))!;
      expect(apiKeyMatches(apiKey, stored.keyHash)).toBe(true);
      expect(await allText()).not.toContain(apiKey.slice(13));
      const rotated = await accounts.rotateAppKey(ADMIN, app.id);
      expect(rotated.apiKey).not.toBe(apiKey);
      const after = (await store.accounts.app(app.id))!;
      expect(apiKeyMatches(apiKey, after.keyHash)).toBe(false);
      expect(apiKeyMatches(rotated.apiKey, after.keyHash)).toBe(true);
      expect(revoked).toContainEqual([app.id, 1]);
      await expect(accounts.createApp(ADMIN, { name: 'SCANNER-BOT' })).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await accounts.deleteApp(ADMIN, app.id)).toBe(true);
    });

    it('accepts a TOTP step only once and only forwards', async () => {
      const user = await accounts.createUser(ADMIN, { login: 'dave', password: PASSWORD, roles: [] });
      await store.accounts.updateUser(user.id, { totpSeed: 'sealed' }, { action: 'user.totp-enrol', subject: user.id, roles: [], address: null, traceId: null, target: user.id, details: {} });
      const entry = { action: 'user.totp-use', subject: user.id, roles: [], address: null, traceId: null, target: user.id, details: {} };
      expect(await store.accounts.useTotpStep(user.id, 100, entry)).toBe(true);
      expect(await store.accounts.useTotpStep(user.id, 100, entry)).toBe(false);
      expect(await store.accounts.useTotpStep(user.id, 99, entry)).toBe(false);
      expect(await store.accounts.useTotpStep(user.id, 101, entry)).toBe(true);
      expect((await store.accounts.user(user.id))!.totpConfirmed).toBe(true);
    });
  });
}

describe('npm run users', () => {
  it('adds the first Admin with the password from stdin, never from argv', async () => {
    const dir = freshDataDir();
    try {
      const run = spawnSync(process.execPath, [resolve('dist/cli/users.js'), 'add', 'root-admin', '--role', 'Admin'], {
        input: `${PASSWORD}\n`, env: { PATH: process.env.PATH, DATA_DIR: dir }, encoding: 'utf8',
      });
      // Development: the only thing said on stderr is that the key is a development one in DATA_DIR.
      for (const line of run.stderr.split('\n').filter(Boolean)) expect(JSON.parse(line).msg).toMatch(/^CREDENTIALS_KEY is not set/);
      expect(run.stderr).not.toContain(PASSWORD);
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^created user root-admin \(.+\) with roles Admin/);
      expect(run.stdout).not.toContain(PASSWORD);
      const short = spawnSync(process.execPath, [resolve('dist/cli/users.js'), 'add', 'x', '--role', 'Admin'], { input: 'short\n', env: { PATH: process.env.PATH, DATA_DIR: dir }, encoding: 'utf8' });
      expect(short.status).toBe(2);
      expect(short.stderr).toMatch(/password/);
      const store = await openStore({ databaseUrl: null, dataDir: dir });
      try {
        const user = (await store.accounts.userByLogin('root-admin'))!;
        expect(user.roles).toEqual(['Admin']);
        expect(await verifyPassword(user.passwordHash, PASSWORD)).toBe(true);
        expect(await store.accounts.userByLogin('x')).toBeNull();
      } finally {
        await store.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
