import { describe, expect, it } from 'vitest';
import { createGate, hashPassword, verifyPassword } from '../src/passwords';

describe('password hashing', () => {
  it('runs at most the gate limit at once, the rest in order, and a failing work frees its slot', async () => {
    const gate = createGate(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const work = (i: number) => async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      order.push(i);
      if (i === 3) throw new Error('hash failed');
      return i;
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => gate(work(i))));
    expect(most).toBe(2);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(9);
    expect(order).toHaveLength(10);
    // Waiting works start in the order they came (they finish in pairs).
    expect(order.slice(2).every((v, i) => v >= order[i]!)).toBe(true);
  });

  it('hashes and verifies through the gate, many at once', async () => {
    const phc = await hashPassword('a password long enough');
    const checks = await Promise.all(Array.from({ length: 6 }, (_, i) => verifyPassword(phc, i % 2 ? 'a password long enough' : 'wrong password here')));
    expect(checks).toEqual([false, true, false, true, false, true]);
    expect(await verifyPassword(null, 'anything at all')).toBe(false);
  });
});
