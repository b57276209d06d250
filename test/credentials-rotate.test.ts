import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../src/audit';
import { createSealer } from '../src/auth-secrets';
import { credentialVault } from '../src/credential-service';
import { parseKeySetting, SecretKey } from '../src/secrets';
import { openStore } from '../src/store';
import { openSigningKeys } from '../src/token-keys';
import { TOTP_SEED_PURPOSE, totpCode } from '../src/totp';
import { gatewayBackends } from './support/backends';
import { runCli } from './support/cli';
import { CookieJar } from './support/cookie-jar';
import { freshDataDir, startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { inventorySshdAvailable, startInventorySshd, type InventorySshd } from './support/inventory-sshd';
import { waitForJob } from './support/jobs';

// `rotate-key` as an operator runs it between two runs of the real gateway: everything sealed under the old
// CREDENTIALS_KEY (credentials, TOTP seeds, token signing keys) must work under the new one after a restart.

const ADMIN: Caller = { subject: 'setup', userName: 'setup', roles: new Set(['Admin']), expiresAt: Infinity };
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const STEP_MS = 30_000;

async function post(jar: CookieJar, url: string, body: unknown, bearer?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...jar.header(), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  jar.take(res.headers);
  const text = await res.text();
  return { status: res.status, text, json: (() => { try { return JSON.parse(text); } catch { return undefined; } })() };
}

for (const backend of gatewayBackends) {
  describe.skipIf(!backend.available || !inventorySshdAvailable())(`rotating CREDENTIALS_KEY across a restart (${backend.name})`, { timeout: 240_000 }, () => {
    let env: Record<string, string>;
    let drop: () => Promise<void>;
    let dataDir: string;
    let keyDir: string;
    let sshd: InventorySshd;
    let running: TestGateway | null = null;

    beforeAll(async () => {
      const b = await backend.env();
      drop = b.drop;
      env = b.env;
      dataDir = freshDataDir();
      keyDir = mkdtempSync(join(tmpdir(), 'rotate-keys-'));
      sshd = await startInventorySshd();
    });
    afterAll(async () => {
      await running?.stop();
      await sshd?.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(keyDir, { recursive: true, force: true });
      await drop?.();
    });

    const start = async (keyFile: string) =>
      (running = await startTestGateway({ ...env, CREDENTIALS_KEY: keyFile, SCAN_TIMEOUT_MS: '60000' }, { dataDir }));
    const stop = async () => {
      await running!.stop();
      running = null;
    };
    /** Password, then (the first time) enrolment, then a TOTP code: the full token the gateway issues. */
    const signIn = async (t: TestGateway, login: string, seed: string | null, at: number) => {
      const jar = new CookieJar();
      const first = await post(jar, `${t.url}/signinBody`, { Login: login, Password: PASSWORD });
      expect(first.status).toBe(200);
      if (!seed) {
        const enrol = await post(jar, `${t.url}/signin2fa/enrol`, undefined, first.json);
        expect(enrol.status).toBe(200);
        seed = new URL(enrol.json.uri).searchParams.get('secret')!;
      }
      const second = await post(jar, `${t.url}/sigin2fa`, totpCode(seed, at), first.json);
      expect(second.status, second.text).toBe(200);
      return { token: second.json as string, seed };
    };
    const ok = async (t: TestGateway, token: string, query: string, variables?: Record<string, unknown>) => {
      const res = await gql(t.url, token, query, variables);
      expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
      return res.body.data;
    };
    /** Schedule over GraphQL with `token`, wait for the job, and read the host's outcome. */
    const scan = async (t: TestGateway, token: string, hostId: string) => {
      const { scheduleHostScans } = await ok(t, token, 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }', { ids: [hostId] });
      await waitForJob(t.url, scheduleHostScans[0].id, token, 60_000);
      const { hostScanJob } = await ok(t, token, 'query($id: ID!) { hostScanJob(id: $id) { hostScanHostStatus { status statusDescription } } }', { id: scheduleHostScans[0].id });
      return hostScanJob.hostScanHostStatus[0] as { status: string; statusDescription: string };
    };

    it('re-seals credentials, TOTP seeds and signing keys: after a restart on the new key MFA sign-in, tokens and scans work, and the old key opens nothing', async () => {
      const oldKeyFile = join(keyDir, 'old.key');
      const oldKey = SecretKey.generate();
      writeFileSync(oldKeyFile, `${oldKey.exportBase64()}\n`, { mode: 0o600 });
      const newKeyFile = join(keyDir, 'new.key');

      // Before: a user enrols TOTP and signs in (the gateway made its signing key at start and signs with it);
      // with that token, a credential and a host that logs in with it, scanned.
      let t = await start(oldKeyFile);
      const login = `rot-${randomBytes(4).toString('hex')}`;
      const user = await t.gateway.accounts.createUser(ADMIN, { login, password: PASSWORD, roles: ['Admin'] });
      const before = await signIn(t, login, null, Date.now());
      const { createCredential } = await ok(t, before.token, 'mutation($input: CreateCredentialInput!) { createCredential(input: $input) { id } }',
        { input: { name: 'rotated', kind: 'SshPassword', username: 'scanner', password: sshd.scanner.password } });
      const { upsertHosts } = await ok(t, before.token, 'mutation($hosts: [HostInput!]!) { upsertHosts(hosts: $hosts) { id } }',
        { hosts: [{ name: 'rotated-host', ipAddress: '127.0.0.1', sshPort: sshd.port, credentialName: 'rotated', sshTrust: 'ErrorOnThumbprintMismatch' }] });
      const hostId: string = upsertHosts[0].id;
      expect(await scan(t, before.token, hostId)).toMatchObject({ status: 'CompletedWithErrors', statusDescription: expect.stringMatching(/accounts/) });
      await stop();

      const rotated = await runCli('credentials', ['rotate-key', '--generate', newKeyFile], { ...env, DATA_DIR: dataDir, CREDENTIALS_KEY: oldKeyFile });
      expect(rotated.stderr).not.toContain(sshd.scanner.password);
      expect(rotated.code, rotated.stderr).toBe(0);
      const newKey = new SecretKey(parseKeySetting(newKeyFile)!);
      expect(rotated.stdout).toBe(`re-sealed 1 credential, 1 TOTP seed and 1 token signing key with key ${newKey.keyId}; set CREDENTIALS_KEY to the new key and restart every gateway\n`);

      // After, on the new key: the same authenticator signs in (a later step: the first one is spent), the
      // gateway signs a token that verifies, the token from before still verifies, and the host is scanned.
      t = await start(newKeyFile);
      const after = await signIn(t, login, before.seed, Date.now() + STEP_MS);
      expect(after.token).not.toBe(before.token);
      for (const token of [after.token, before.token]) {
        expect((await ok(t, token, '{ credentials { nodes { id } } }')).credentials.nodes).toEqual([{ id: createCredential.id }]);
      }
      expect(await scan(t, after.token, hostId)).toMatchObject({ status: 'CompletedWithErrors', statusDescription: expect.stringMatching(/accounts/) });
      expect(t.logs.join('')).not.toContain(sshd.scanner.password);
      await stop();

      // The old key opens none of it; the new key opens all of it.
      const store = await openStore({ databaseUrl: env.DATABASE_URL ?? null, dataDir });
      try {
        const seed = (await store.accounts.user(user.id))!.totpSeed!;
        expect(() => createSealer(oldKey).open(seed, TOTP_SEED_PURPOSE)).toThrow();
        expect(createSealer(newKey).open(seed, TOTP_SEED_PURPOSE)).toBe(before.seed);
        await expect(credentialVault(store, oldKey).reveal(createCredential.id)).rejects.toThrow(/configured key is/);
        expect(await credentialVault(store, newKey).reveal(createCredential.id)).toEqual({ username: 'scanner', password: sshd.scanner.password });
        const keys = await store.signingKeys.list();
        expect(keys.length).toBeGreaterThan(0);
        expect(openSigningKeys(keys, createSealer(oldKey)).map((k) => k.privateKey)).toEqual(keys.map(() => null));
        expect(openSigningKeys(keys, createSealer(newKey)).every((k) => k.privateKey !== null)).toBe(true);
      } finally {
        await store.stop();
      }
    });
  });
}
