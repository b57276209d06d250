import { Secret, TOTP } from 'otpauth';

// RFC 6238 as authenticator apps implement it: SHA-1, 6 digits, 30-second steps.
const PERIOD_S = 30;
const ISSUER = 'Scan Gateway';
/** What sealed seeds are bound to (see auth-secrets.ts). */
export const TOTP_SEED_PURPOSE = 'totp-seed';

/** A new random seed (160 bits, RFC 4226's recommendation), base32 as authenticator apps take it. */
export const newTotpSeed = (): string => new Secret({ size: 20 }).base32;

const totpOf = (seed: string, label: string) =>
  new TOTP({ issuer: ISSUER, label, algorithm: 'SHA1', digits: 6, period: PERIOD_S, secret: Secret.fromBase32(seed) });

/** The `otpauth://` URI an authenticator app scans (as a QR code) or takes by hand. */
export const totpUri = (seed: string, label: string): string => totpOf(seed, label).toString();

/**
 * The time step `code` belongs to, within one step either side of `now`; null when it matches none.
 * The caller accepts each step once (replay refused) by recording the step it used.
 */
export function totpStep(seed: string, code: string, now = Date.now()): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpOf(seed, '').validate({ token: code, timestamp: now, window: 1 });
  return delta === null ? null : Math.floor(now / 1000 / PERIOD_S) + delta;
}

/** The code for `seed` at `now` (tests and the dashboard's development helper only). */
export const totpCode = (seed: string, now = Date.now()): string => totpOf(seed, '').generate({ timestamp: now });
