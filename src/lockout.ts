import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';

/** How failed sign-ins slow down and then lock, per account name and per client address. */
export interface LockoutPolicy {
  /** Failures of one account within `lockoutMs` that lock it for `lockoutMs`. */
  lockAfter: number;
  /** Failures from one address within `lockoutMs` that lock it (every account) for `lockoutMs`. */
  lockAfterPerAddress: number;
  lockoutMs: number;
  /** Failures of one account after which each failure is answered later (250 ms, doubling, at most 4 s). */
  slowAfter: number;
}

export interface LockoutClock {
  now(): number;
  sleep(ms: number): Promise<unknown>;
}

interface Tally {
  count: number;
  since: number;
  lockedUntil: number;
}

const MAX_DELAY_MS = 4_000;

/**
 * Counts failed sign-ins in memory, per instance: by account name (known or not, so a lock says nothing
 * about whether the account exists) and by client address. Counts and locks expire after `lockoutMs`.
 */
export class Lockout {
  // Bounded: an attacker cycling names or addresses evicts old tallies rather than filling memory.
  private readonly tallies = new LRUCache<string, Tally>({ max: 100_000 });

  constructor(
    private readonly policy: LockoutPolicy,
    private readonly clock: LockoutClock = { now: Date.now, sleep },
  ) {}

  /** Whether sign-ins for `account` or from `address` are locked now. */
  locked(account: string, address: string | null): boolean {
    const now = this.clock.now();
    return [this.tally(`a:${account.toLowerCase()}`, now), address === null ? null : this.tally(`ip:${address}`, now)].some((t) => t !== null && t.lockedUntil > now);
  }

  /** Count a failure; true when it locked the account or the address just now. */
  failed(account: string, address: string | null): boolean {
    const now = this.clock.now();
    const byAccount = this.count(`a:${account.toLowerCase()}`, now, this.policy.lockAfter);
    const byAddress = address === null ? false : this.count(`ip:${address}`, now, this.policy.lockAfterPerAddress);
    return byAccount || byAddress;
  }

  /** Wait before answering a failure, longer the more the account has failed. */
  async slowDown(account: string): Promise<void> {
    const over = (this.tally(`a:${account.toLowerCase()}`, this.clock.now())?.count ?? 0) - this.policy.slowAfter;
    if (over > 0) await this.clock.sleep(Math.min(MAX_DELAY_MS, 250 * 2 ** Math.min(over - 1, 10)));
  }

  /** A sign-in of `account` succeeded: its count starts again (the address's does not). */
  succeeded(account: string): void {
    this.tallies.delete(`a:${account.toLowerCase()}`);
  }

  private tally(key: string, now: number): Tally | null {
    const t = this.tallies.get(key);
    if (t && t.lockedUntil <= now && now - t.since >= this.policy.lockoutMs) {
      this.tallies.delete(key);
      return null;
    }
    return t ?? null;
  }

  private count(key: string, now: number, limit: number): boolean {
    const t = this.tally(key, now) ?? { count: 0, since: now, lockedUntil: 0 };
    t.count++;
    this.tallies.set(key, t);
    if (t.count < limit || t.lockedUntil > now) return false;
    // Locked from now; the count restarts when the lock ends.
    t.lockedUntil = now + this.policy.lockoutMs;
    t.since = now;
    t.count = 0;
    return true;
  }
}
