import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghij-klmnop';

/** A token the test gateway accepts, signed with TEST_SECRET; any claim can be overridden. */
export function token(claims: Record<string, unknown> = {}, options: { secret?: string; expiresIn?: number } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  // jsonwebtoken keeps an iat given in the payload (and would drop it with noTimestamp).
  return jwt.sign({ sub: 'tester', iat: now, exp: now + (options.expiresIn ?? 600), ...claims }, options.secret ?? TEST_SECRET, {
    algorithm: 'HS256',
  });
}

export const adminToken = (claims: Record<string, unknown> = {}) => token({ roles: ['Admin'], sub: 'admin-1', name: 'Ada Admin', ...claims });
export const appToken = (claims: Record<string, unknown> = {}) => token({ roles: ['App'], sub: 'app-1', ...claims });

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A hand-assembled JWS with any header and payload, HMAC-signed with `key` (or unsigned when key is null). */
export function rawToken(header: Record<string, unknown>, payload: unknown, key: string | Buffer | null = TEST_SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = key === null ? '' : createHmac('sha256', key).update(input).digest('base64url');
  return `${input}.${signature}`;
}
