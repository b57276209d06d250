import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/**
 * Sealing credential secrets at rest: AES-256-GCM with a random 12-byte nonce per record, the key's id
 * beside the ciphertext, and the record's id bound in as additional data (a sealed secret copied onto
 * another record does not open). The key never leaves this module's objects: not in a message, not in a
 * log line.
 */

/** A sealed secret as stored: the envelope (`v1.` + base64url of nonce ‖ ciphertext ‖ tag) and the id of the key that sealed it. */
export interface Sealed {
  keyId: string;
  envelope: string;
}

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** Why a sealed secret did not open; the message names key ids and record ids only. */
export class SealError extends Error {
  override readonly name = 'SealError';
}

/** One AES-256 key and its id (a hash of the key under its own label: it names the key and reveals nothing). */
export class SecretKey {
  readonly keyId: string;
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new SealError(`A credentials key has ${KEY_BYTES} bytes (this one has ${key.length}).`);
    this.#key = Buffer.from(key);
    this.keyId = createHash('sha256').update('scan-gateway credentials key id\0').update(key).digest('hex').slice(0, 16);
  }

  /** A fresh random key. */
  static generate(): SecretKey {
    return new SecretKey(randomBytes(KEY_BYTES));
  }

  /** The key as CREDENTIALS_KEY takes it (base64). Only for writing a key file. */
  exportBase64(): string {
    return this.#key.toString('base64');
  }

  seal(recordId: string, plaintext: Buffer | string): Sealed {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(aad(recordId, this.keyId));
    const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
    return { keyId: this.keyId, envelope: `${VERSION}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}` };
  }

  /** The plaintext of a record this key sealed; SealError when it was sealed by another key, for another record, or changed. */
  open(recordId: string, sealed: Sealed): Buffer {
    if (sealed.keyId !== this.keyId) {
      throw new SealError(`The secret of credential ${recordId} was sealed with key ${sealed.keyId}, but the configured key is ${this.keyId}.`);
    }
    const [version, data] = sealed.envelope.split('.', 2);
    const bytes = version === VERSION && data ? Buffer.from(data, 'base64url') : Buffer.alloc(0);
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new SealError(`The secret of credential ${recordId} is not a sealed envelope.`);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, NONCE_BYTES));
    decipher.setAAD(aad(recordId, sealed.keyId));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SealError(`The secret of credential ${recordId} does not open: it was changed, or sealed for another record.`);
    }
  }

  /** Keeps the key out of console.log, util.inspect and JSON. */
  toJSON(): { keyId: string } {
    return { keyId: this.keyId };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecretKey { keyId: '${this.keyId}' }`;
  }
}

const aad = (recordId: string, keyId: string) => Buffer.from(`scan-gateway credential ${VERSION}\0${recordId}\0${keyId}`, 'utf8');

/**
 * CREDENTIALS_KEY's value as key bytes: the base64 of 32 bytes, or a path to a file holding that (or the
 * 32 raw bytes). Null when the value is neither; the caller says so without quoting it.
 */
export function parseKeySetting(value: string, readFile: (path: string) => Buffer = readFileSync): Buffer | null {
  const inline = decodeKey(value);
  if (inline) return inline;
  let content: Buffer;
  try {
    content = readFile(value);
  } catch {
    return null;
  }
  if (content.length === KEY_BYTES) return content;
  return decodeKey(content.toString('utf8'));
}

function decodeKey(text: string): Buffer | null {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(t) && !/^[A-Za-z0-9_-]{43}=?$/.test(t)) return null;
  const bytes = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
  return bytes.length === KEY_BYTES ? bytes : null;
}

/** Where a development gateway keeps the key it made for itself. */
export const devKeyPath = (dataDir: string) => join(dataDir, 'credentials.key');

/**
 * The key to seal credentials with: CREDENTIALS_KEY when configured; in development without it, a key in
 * `<DATA_DIR>/credentials.key` (made with mode 0600 on first use), with a warning; in production without
 * it, none (storing a credential then fails with a clear error, everything else works).
 */
export function credentialKeyFor(o: { configured: Buffer | null; production: boolean; dataDir: string; logger: Logger }): SecretKey | null {
  if (o.configured) return new SecretKey(o.configured);
  if (o.production) {
    o.logger.warn('CREDENTIALS_KEY is not set: credentials cannot be stored or used until it is (NODE_ENV=production)');
    return null;
  }
  const path = devKeyPath(o.dataDir);
  mkdirSync(o.dataDir, { recursive: true });
  const key = fileExists(path) ? readDevKey(path) : createDevKey(path);
  o.logger.warn({ keyFile: path, keyId: key.keyId },
    'CREDENTIALS_KEY is not set: credentials are sealed with a development key kept in DATA_DIR; set CREDENTIALS_KEY (base64 of 32 bytes, or a file path) for real use');
  return key;
}

function readDevKey(path: string): SecretKey {
  const existing = parseKeySetting(path);
  if (!existing) throw new SealError(`${path} does not hold a credentials key (the base64 of ${KEY_BYTES} bytes); move it away or set CREDENTIALS_KEY.`);
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return new SecretKey(existing);
}

function createDevKey(path: string): SecretKey {
  const key = SecretKey.generate();
  // Written whole aside, then linked into place: link(2) never replaces a file, so a key another gateway
  // on this DATA_DIR made first (PostgreSQL in development) wins and is used, and no reader sees half a file.
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, `${key.exportBase64()}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(aside, path);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readDevKey(path);
    throw err;
  } finally {
    unlinkSync(aside);
  }
}

function fileExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
