import { describe, expect, it } from 'vitest';
import { newTotpSeed, totpCode, totpStep, totpUri } from '../src/totp';

// RFC 6238 with one step of clock difference either way, and no more.

describe('TOTP', () => {
  const seed = newTotpSeed();
  const now = 1_800_000_015_000; // 15 s into a step
  const step = Math.floor(now / 30_000);

  it('accepts the code of this step and of one step either side, naming the step it belongs to', () => {
    expect(totpStep(seed, totpCode(seed, now), now)).toBe(step);
    expect(totpStep(seed, totpCode(seed, now - 30_000), now)).toBe(step - 1);
    expect(totpStep(seed, totpCode(seed, now + 30_000), now)).toBe(step + 1);
  });

  it('refuses codes two steps away, of another seed, and anything but six digits', () => {
    expect(totpStep(seed, totpCode(seed, now - 60_000), now)).toBeNull();
    expect(totpStep(seed, totpCode(seed, now + 60_000), now)).toBeNull();
    expect(totpStep(seed, totpCode(newTotpSeed(), now), now)).toBeNull();
    for (const bad of ['', '12345', '1234567', 'abcdef', ` ${totpCode(seed, now)}`]) expect(totpStep(seed, bad, now)).toBeNull();
  });

  it('matches the RFC 6238 SHA-1 test vector', () => {
    // Appendix B: the ASCII seed "12345678901234567890" at T = 59 s gives 94287082 (8 digits); 6 digits: 287082.
    const rfcSeed = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    expect(totpCode(rfcSeed, 59_000)).toBe('287082');
  });

  it('makes a URI authenticator apps take', () => {
    const uri = new URL(totpUri(seed, 'alice'));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(seed);
    expect(uri.searchParams.get('period')).toBe('30');
    expect(uri.searchParams.get('digits')).toBe('6');
  });
});
