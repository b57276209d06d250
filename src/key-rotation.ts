import type { Logger } from 'pino';
import type { Caller } from './audit';
import { auditEntry, type AuditEntry } from './audit';
import type { Sealer } from './auth-secrets';
import { requireRole } from './auth';
import { AppError, unavailable } from './errors';
import type { Store } from './store';
import { newSigningKey, openSigningKeys, type KeyRing, type SigningKey } from './token-keys';

const DAY_MS = 86_400_000;

/** How a rotation is timed; every span follows from the period and the tokens' lifetime (see rotationTimes). */
export interface RotationTimes {
  /** Between one key starting to sign and the next; 0: only on request (rotateSigningKey). */
  periodMs: number;
  /** How long the next key is published before it signs. */
  leadMs: number;
  /** How long a key keeps verifying after its successor starts to sign. */
  overlapMs: number;
  /** How often an instance reads the keys again (and rotates, when due). */
  refreshMs: number;
  /** The JWKS's Cache-Control max-age. */
  jwksMaxAgeS: number;
}

/**
 * The next key is published a quarter of the period before it signs, at most a day (a day also when
 * rotation is on request only). Every instance reads the keys at least four times within that lead, and a
 * verifier that honours the JWKS's max-age (at most half the lead) refetches within it: by the time any
 * instance signs with the new key, every instance and every such verifier knows it. The old key verifies
 * for a token's lifetime plus the verifier's clock tolerance after its successor starts to sign, then retires.
 */
export function rotationTimes(periodMs: number, tokenTtlS: number, clockToleranceS: number): RotationTimes {
  const leadMs = Math.min(DAY_MS, periodMs > 0 ? periodMs / 4 : DAY_MS);
  return {
    periodMs,
    leadMs,
    overlapMs: (tokenTtlS + clockToleranceS) * 1000,
    refreshMs: Math.min(60_000, leadMs / 4),
    jwksMaxAgeS: Math.max(1, Math.floor(Math.min(300_000, leadMs / 2) / 1000)),
  };
}

/** A signing key as an Admin sees it: never the private half. */
export interface SigningKeyView {
  kid: string;
  state: 'next' | 'signing' | 'verifying';
  signsFrom: Date;
  retiresAt: Date | null;
}

/**
 * Keeps the gateway's signing keys: makes the first, rotates on schedule or on request, and reads the
 * store again often enough that every instance knows a new key before it signs. A rotation is claimed in
 * the store (successor of the newest key, under a lock), so instances deciding together rotate once.
 */
export class KeyRotation {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly o: { store: Store; sealer: Sealer; ring: KeyRing; times: RotationTimes; logger: Logger; now?: () => number },
  ) {}

  get times(): RotationTimes {
    return this.o.times;
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Load the keys, making the first if the store has none (the first instance's key wins). */
  async open(): Promise<void> {
    let records = await this.o.store.signingKeys.list();
    if (records.length === 0) records = await this.o.store.signingKeys.addFirst(await newSigningKey(this.o.sealer, new Date(this.now())));
    this.o.ring.replace(openSigningKeys(records, this.o.sealer));
  }

  /** Read the keys again, and rotate first when the period says so. Runs every `refreshMs` once started. */
  async tick(): Promise<void> {
    if (this.due()) await this.claim(null);
    else await this.open();
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .catch((err: unknown) => this.o.logger.warn({ err: { message: (err as Error).message } }, 'could not read or rotate the token signing keys; trying again'))
        .finally(() => (this.running = null));
    }, this.o.times.refreshMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Admin only: start a rotation now (the new key signs after the usual lead). */
  async rotateNow(caller: Caller): Promise<SigningKeyView> {
    requireRole(caller, ['Admin']);
    await this.open();
    const pending = this.o.ring.newest();
    if (pending && pending.signsFrom.getTime() > this.now()) {
      throw new AppError('CONFLICT', `A next signing key (${pending.kid}) is already published; it signs from ${pending.signsFrom.toISOString()}. Nothing was changed.`);
    }
    const key = await this.claim(caller);
    if (!key) throw new AppError('CONFLICT', 'Another instance rotated the signing key at the same moment; see signingKeys. Nothing was changed.');
    return this.view(key);
  }

  /** Admin only: the keys as published, next one first. */
  keys(caller: Caller): SigningKeyView[] {
    requireRole(caller, ['Admin']);
    return this.o.ring.published().map((k) => this.view(k));
  }

  private due(): boolean {
    const newest = this.o.ring.newest();
    const { periodMs, leadMs } = this.o.times;
    if (!newest || periodMs === 0) return false;
    return this.now() >= newest.signsFrom.getTime() + periodMs - leadMs;
  }

  /** Claim the rotation after the newest key this instance knows; the new key, or null if another instance won. */
  private async claim(caller: Caller | null): Promise<SigningKey | null> {
    const after = this.o.ring.newest();
    // A key sealed here under a CREDENTIALS_KEY the others do not share would be one they cannot sign with.
    if (!after?.privateKey) {
      if (caller) throw unavailable('This instance cannot open the current signing key (its CREDENTIALS_KEY differs), so it cannot make the next one.');
      await this.open(); // it still learns of the keys the others make
      return null;
    }
    const now = this.now();
    const { periodMs, leadMs, overlapMs } = this.o.times;
    const signsFrom = new Date(caller ? now + leadMs : Math.max(after.signsFrom.getTime() + periodMs, now + leadMs));
    const key = await newSigningKey(this.o.sealer, signsFrom);
    const retireAt = new Date(signsFrom.getTime() + overlapMs);
    const details = { previousKid: after.kid, signsFrom: signsFrom.toISOString(), previousRetiresAt: retireAt.toISOString(), reason: caller ? 'requested' : 'scheduled' };
    const audit: AuditEntry = caller
      ? auditEntry(caller, 'signing-key.rotate', key.kid, details)
      : { action: 'signing-key.rotate', subject: null, roles: [], address: null, traceId: null, target: key.kid, details };
    const { rotated, keys } = await this.o.store.signingKeys.rotate({ after: after.kid, key, retireAt, now: new Date(now), audit });
    this.o.ring.replace(openSigningKeys(keys, this.o.sealer));
    if (!rotated) return null;
    this.o.logger.info({ kid: key.kid, previousKid: after.kid, signsFrom, previousRetiresAt: retireAt }, 'token signing key rotated: the next key is published');
    return this.o.ring.published().find((k) => k.kid === key.kid) ?? null;
  }

  private view(key: SigningKey): SigningKeyView {
    const state = key.signsFrom.getTime() > this.now() ? 'next' : key === this.o.ring.signer() ? 'signing' : 'verifying';
    return { kid: key.kid, state, signsFrom: key.signsFrom, retiresAt: key.retiresAt };
  }
}
