import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// `sgk_<prefix>_<secret>`: 256 random bits; the 8-hex-digit prefix is shown beside the app so that an
// operator can tell keys apart, and is stored in the clear. The key is 256 bits of entropy, so a plain
// SHA-256 is enough to store it (no guessing a preimage); Argon2 would only slow every App sign-in.
const KEY = /^sgk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

export interface ApiKey {
  key: string;
  prefix: string;
  hash: string;
}

export function newApiKey(): ApiKey {
  const prefix = randomBytes(4).toString('hex');
  const key = `sgk_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** Whether `key` is well formed and hashes to `storedHash` (compared in constant time). */
export function apiKeyMatches(key: string, storedHash: string): boolean {
  if (!KEY.test(key)) return false;
  const a = Buffer.from(hashApiKey(key), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
