import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rotationTimes } from '../src/key-rotation';
import { KeyRing, type SigningKey } from '../src/token-keys';

// Which key signs, verifies and is published is a matter of time alone, so every instance switches at the
// same moment. A clock of our own: these are the ring's rules, not a gateway's timing.

const key = (kid: string, signsFrom: number, retiresAt: number | null): SigningKey => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk: { kid }, signsFrom: new Date(signsFrom), retiresAt: retiresAt === null ? null : new Date(retiresAt) };
};

describe('KeyRing', () => {
  it('publishes the next key before it signs, switches at its signsFrom, and drops the old one when it retires', () => {
    let now = 1_000;
    const ring = new KeyRing(() => now);
    ring.replace([key('old', 0, 2_500), key('next', 2_000, null)]);
    expect(ring.published().map((k) => k.kid)).toEqual(['next', 'old']);
    expect(ring.signer()?.kid).toBe('old');
    expect(ring.newest()?.kid).toBe('next');
    now = 2_000;
    expect(ring.signer()?.kid).toBe('next');
    expect(ring.key('old')).toBeDefined();
    now = 2_500;
    expect(ring.key('old')).toBeUndefined();
    expect(ring.published().map((k) => k.kid)).toEqual(['next']);
    expect(ring.key('next')).toBeDefined();
    expect(ring.key('unknown')).toBeUndefined();
  });
});

describe('rotationTimes', () => {
  it('publishes a quarter period ahead (at most a day), refreshes four times and caches the JWKS at most half of that lead', () => {
    const month = rotationTimes(30 * 86_400_000, 900, 30);
    expect(month).toEqual({ periodMs: 30 * 86_400_000, leadMs: 86_400_000, overlapMs: 930_000, refreshMs: 60_000, jwksMaxAgeS: 300 });
    const short = rotationTimes(40_000, 60, 30);
    expect(short).toMatchObject({ leadMs: 10_000, overlapMs: 90_000, refreshMs: 2_500, jwksMaxAgeS: 5 });
    expect(rotationTimes(0, 900, 30).leadMs).toBe(86_400_000);
  });
});
