import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { credentialKeyFor, devKeyPath, parseKeySetting, SealError, SecretKey } from '../src/secrets';
import { createSealer } from '../src/auth-secrets';
import { isAppError } from '../src/errors';

const RECORD = '6f1d3c1e-2a4b-4c5d-8e9f-0a1b2c3d4e5f';
const OTHER_RECORD = '7a2e4d2f-3b5c-4d6e-9f0a-1b2c3d4e5f60';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'secrets-test-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const capture = () => {
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
  return { logger, lines };
};

describe('SecretKey: AES-256-GCM', () => {
  const key = SecretKey.generate();

  it('opens what it sealed, for the same record', () => {
    const sealed = key.seal(RECORD, 'hunter2-correct-horse');
    expect(sealed.keyId).toBe(key.keyId);
    expect(sealed.envelope).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(sealed.envelope).not.toContain('hunter2');
    expect(key.open(RECORD, sealed).toString('utf8')).toBe('hunter2-correct-horse');
  });

  it('uses a fresh nonce for every record: the same secret seals differently each time', () => {
    const a = key.seal(RECORD, 'same');
    const b = key.seal(RECORD, 'same');
    expect(a.envelope).not.toBe(b.envelope);
    const nonce = (s: string) => Buffer.from(s.slice(3), 'base64url').subarray(0, 12).toString('hex');
    expect(nonce(a.envelope)).not.toBe(nonce(b.envelope));
  });

  it('binds the record id: a sealed secret copied onto another record does not open', () => {
    const sealed = key.seal(RECORD, 'secret');
    expect(() => key.open(OTHER_RECORD, sealed)).toThrow(SealError);
    expect(() => key.open(OTHER_RECORD, sealed)).toThrow(/sealed for another record/);
  });

  it('refuses a changed envelope, a changed key id and another key, naming only ids', () => {
    const sealed = key.seal(RECORD, 'secret');
    const bytes = Buffer.from(sealed.envelope.slice(3), 'base64url');
    bytes[14]! ^= 1;
    expect(() => key.open(RECORD, { ...sealed, envelope: `v1.${bytes.toString('base64url')}` })).toThrow(/was changed/);
    expect(() => key.open(RECORD, { ...sealed, envelope: 'v1.AAAA' })).toThrow(/not a sealed envelope/);
    const other = SecretKey.generate();
    expect(() => other.open(RECORD, sealed)).toThrow(`sealed with key ${key.keyId}, but the configured key is ${other.keyId}`);
    // A forged key id still fails: the id is bound into the additional data.
    expect(() => other.open(RECORD, { ...sealed, keyId: other.keyId })).toThrow(SealError);
  });

  it('never shows the key: not in inspect, JSON or its id', () => {
    const raw = randomBytes(32);
    const k = new SecretKey(raw);
    const shown = `${inspect(k)} ${JSON.stringify(k)} ${k.keyId}`;
    expect(shown).not.toContain(raw.toString('base64'));
    expect(shown).not.toContain(raw.toString('hex'));
    expect(shown).toContain(k.keyId);
    expect(new SecretKey(raw).keyId).toBe(k.keyId); // the same key, the same id
  });

  it('takes exactly 32 bytes', () => {
    expect(() => new SecretKey(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('CREDENTIALS_KEY', () => {
  const raw = randomBytes(32);

  it('is the base64 of 32 bytes, or a file holding that or the raw bytes', () => {
    expect(parseKeySetting(raw.toString('base64'))).toEqual(raw);
    expect(parseKeySetting(raw.toString('base64url'))).toEqual(raw);
    const dir = tempDir();
    writeFileSync(join(dir, 'b64'), `${raw.toString('base64')}\n`);
    writeFileSync(join(dir, 'raw'), raw);
    expect(parseKeySetting(join(dir, 'b64'))).toEqual(raw);
    expect(parseKeySetting(join(dir, 'raw'))).toEqual(raw);
    expect(loadConfig({ CREDENTIALS_KEY: join(dir, 'b64') }).credentialsKey).toEqual(raw);
    expect(loadConfig({}).credentialsKey).toBeNull();
  });

  it.each([
    ['16 bytes', randomBytes(16).toString('base64')],
    ['33 bytes', randomBytes(33).toString('base64')],
    ['a missing file', '/nonexistent/credentials.key'],
    ['a passphrase', 'correct horse battery staple, not a key'],
  ])('refuses %s at start without quoting the value', (_, value) => {
    let err: unknown;
    try {
      loadConfig({ CREDENTIALS_KEY: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('CREDENTIALS_KEY');
    expect((err as Error).message).not.toContain(value);
  });
});

describe('the key a gateway seals with', () => {
  it('is CREDENTIALS_KEY when set, with nothing written or warned', () => {
    const dir = tempDir();
    const { logger, lines } = capture();
    const raw = randomBytes(32);
    const key = credentialKeyFor({ configured: raw, production: true, dataDir: dir, logger });
    expect(key?.keyId).toBe(new SecretKey(raw).keyId);
    expect(lines).toEqual([]);
    expect(() => statSync(devKeyPath(dir))).toThrow();
  });

  it('in development without it: a key file made once with mode 0600, a warning that never holds the key', () => {
    const dir = join(tempDir(), 'not-yet-made');
    const { logger, lines } = capture();
    const first = credentialKeyFor({ configured: null, production: false, dataDir: dir, logger })!;
    const file = devKeyPath(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = readFileSync(file, 'utf8').trim();
    expect(parseKeySetting(file)).not.toBeNull();
    const again = credentialKeyFor({ configured: null, production: false, dataDir: dir, logger })!;
    expect(again.keyId).toBe(first.keyId); // the same key next start: what it sealed still opens
    expect(again.open(RECORD, first.seal(RECORD, 'x')).toString()).toBe('x');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 40, keyFile: file, keyId: first.keyId, msg: expect.stringMatching(/CREDENTIALS_KEY is not set/) });
    expect(lines.join('')).not.toContain(stored);
  });

  it('in development, an existing key file others can read is used and made 0600', () => {
    const dir = tempDir();
    const raw = randomBytes(32);
    writeFileSync(devKeyPath(dir), raw.toString('base64'), { mode: 0o644 });
    const { logger } = capture();
    expect(credentialKeyFor({ configured: null, production: false, dataDir: dir, logger })!.keyId).toBe(new SecretKey(raw).keyId);
    expect(statSync(devKeyPath(dir)).mode & 0o777).toBe(0o600);
  });

  it('in development, a key file that holds no key stops the start instead of being replaced', () => {
    const dir = tempDir();
    writeFileSync(devKeyPath(dir), 'garbage');
    const { logger } = capture();
    expect(() => credentialKeyFor({ configured: null, production: false, dataDir: dir, logger })).toThrow(/does not hold a credentials key/);
    expect(readFileSync(devKeyPath(dir), 'utf8')).toBe('garbage');
  });

  it('in production without it: none, a warning, and no file', () => {
    const dir = tempDir();
    const { logger, lines } = capture();
    expect(credentialKeyFor({ configured: null, production: true, dataDir: dir, logger })).toBeNull();
    expect(lines.join('')).toMatch(/CREDENTIALS_KEY is not set: credentials cannot be stored/);
    expect(() => statSync(devKeyPath(dir))).toThrow();
  });
});

describe('the sign-in secrets sealer', () => {
  it('refuses a seed sealed under another key as UNAVAILABLE naming both key ids, never the seed', () => {
    const old = SecretKey.generate();
    const current = SecretKey.generate();
    const sealed = createSealer(old).seal('JBSWY3DPEHPK3PXP', 'totp-seed');
    let thrown: unknown;
    try {
      createSealer(current).open(sealed, 'totp-seed');
    } catch (err) {
      thrown = err;
    }
    // A sign-in then answers 503 with this message, where it was a bare 500 (an unexpected error).
    expect(isAppError(thrown) && thrown.code).toBe('UNAVAILABLE');
    expect((thrown as Error).message).toContain(current.keyId);
    expect((thrown as Error).message).toContain(old.keyId);
    expect((thrown as Error).message).not.toContain('JBSWY3DPEHPK3PXP');
    expect(createSealer(old).open(sealed, 'totp-seed')).toBe('JBSWY3DPEHPK3PXP');
  });
});
