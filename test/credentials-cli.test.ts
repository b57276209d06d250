import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialVault } from '../src/credential-service';
import { devKeyPath, parseKeySetting, SecretKey } from '../src/secrets';
import { openStore } from '../src/store';
import { gatewayBackends } from './support/backends';
import { freshDataDir } from './support/gateway';

// `npm run credentials -- …` as an operator runs it: the built CLI (dist/), secrets on standard input.

const CLI = resolve('dist/cli/credentials.js');

function run(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.once('exit', (code) => done({ code: code ?? -1, out, err }));
    child.stdin.end(stdin);
  });
}

for (const backend of gatewayBackends) {
  // Each run of the CLI opens the store anew: seconds each on the embedded one.
  describe.skipIf(!backend.available)(`the credentials CLI (${backend.name})`, { timeout: 120_000 }, () => {
    let env: Record<string, string>;
    let drop: () => Promise<void>;
    let dataDir: string;
    let keyDir: string;
    const password = `cli-pw-${randomBytes(9).toString('base64url')}`;
    const passphrase = `cli-pp-${randomBytes(9).toString('base64url')}`;
    const outputs: string[] = [];
    const cli = async (args: string[], stdin = '', extra: Record<string, string> = {}) => {
      const r = await run(args, { ...env, ...extra }, stdin);
      outputs.push(r.out, r.err);
      return r;
    };

    beforeAll(async () => {
      const b = await backend.env();
      drop = b.drop;
      dataDir = backend.name === 'embedded' ? freshDataDir() : mkdtempSync(join(tmpdir(), 'cli-data-'));
      keyDir = mkdtempSync(join(tmpdir(), 'cli-keys-'));
      env = { ...b.env, DATA_DIR: dataDir };
    });
    afterAll(async () => {
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(keyDir, { recursive: true, force: true });
      await drop?.();
    });

    it('adds a password from standard input and a passphrase-protected key from a file; lists them without secrets', async () => {
      const added = await cli(['add', '--name', 'cli password', '--username', 'scanner', '--kind', 'password'], `${password}\n`);
      expect(added).toMatchObject({ code: 0, out: expect.stringMatching(/^added [0-9a-f-]{36} cli password\n$/) });
      const keyFile = join(keyDir, 'id_ed25519');
      expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', keyFile]).status).toBe(0);
      const byKey = await cli(['add', '--name', 'cli key', '--username', 'root', '--kind', 'private-key', '--key-file', keyFile, '--passphrase'], `${passphrase}\n`);
      expect(byKey.code).toBe(0);
      const wrong = await cli(['add', '--name', 'cli bad key', '--username', 'root', '--kind', 'private-key', '--key-file', keyFile, '--passphrase'], 'not-the-passphrase\n');
      expect(wrong).toMatchObject({ code: 1, err: expect.stringMatching(/Not a private key that can be read/) });

      const list = await cli(['list']);
      expect(list.code).toBe(0);
      expect(list.out.split('\n')[0]).toMatch(/^NAME\s+KIND\s+USERNAME\s+HOSTS\s+UPDATED\s+ID$/);
      expect(list.out).toMatch(/cli key\s+SshPrivateKey\s+root\s+0/);
      expect(list.out).toMatch(/cli password\s+SshPassword\s+scanner\s+0/);
      expect(list.out).not.toContain('cli bad key');
      // In development without CREDENTIALS_KEY, the key file the gateway would use was made.
      expect(statSync(devKeyPath(dataDir)).mode & 0o777).toBe(0o600);
    });

    it('takes no secret on the command line', async () => {
      const r = await cli(['add', '--name', 'argv', '--username', 'x', '--kind', 'password', '--password', 'argv-secret-value']);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/Unknown option '--password'/);
      expect((await cli(['list'])).out).not.toContain('argv');
    });

    it('rotates to a new key: the records open with it, and the development key file now holds it', async () => {
      const next = SecretKey.generate();
      const r = await cli(['rotate-key'], `${next.exportBase64()}\n`);
      expect(r).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`^re-sealed 2 credentials, 0 TOTP seeds and 0 token signing keys with key ${next.keyId}; .*credentials.key now holds it`)) });
      expect(parseKeySetting(devKeyPath(dataDir))).toEqual(parseKeySetting(next.exportBase64()));

      // With CREDENTIALS_KEY set (a file), a generated key; the store then opens with it only.
      const generated = join(keyDir, 'next.key');
      const again = await cli(['rotate-key', '--generate', generated], '', { CREDENTIALS_KEY: devKeyPath(dataDir) });
      expect(again).toMatchObject({ code: 0, out: expect.stringMatching(/set CREDENTIALS_KEY to the new key/) });
      expect(statSync(generated).mode & 0o777).toBe(0o600);
      const key = new SecretKey(parseKeySetting(generated)!);
      const store = await openStore({ databaseUrl: env.DATABASE_URL ?? null, dataDir });
      try {
        const [id] = (await store.credentials.resolve(['cli password'])).values();
        expect(await credentialVault(store, key).reveal(id!)).toEqual({ username: 'scanner', password });
        await expect(credentialVault(store, next).reveal(id!)).rejects.toThrow(/configured key is/);
      } finally {
        await store.stop();
      }
      expect(readFileSync(generated, 'utf8')).not.toBe('');
    });

    it('removes by name; an unknown name is a usage error', async () => {
      const r = await cli(['remove', 'cli password'], '', { CREDENTIALS_KEY: join(keyDir, 'next.key') });
      expect(r).toMatchObject({ code: 0, out: expect.stringMatching(/^removed /) });
      expect((await cli(['remove', 'cli password'])).code).toBe(2);
      expect((await cli(['list'])).out).not.toContain('cli password');
    });

    it('never prints a secret', () => {
      const all = outputs.join('\n');
      for (const s of [password, passphrase, 'argv-secret-value', 'not-the-passphrase']) expect(all).not.toContain(s);
    });
  });
}
