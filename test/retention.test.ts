import { describe, expect, it } from 'vitest';
import { pruneAll, type PruneClock } from '../src/retention';

// pruneAll leaves the store to other work between batches for four times as long as a batch took (at
// least 20 ms), so pruning never takes more than a fifth of the store's time. The clock is the test's:
// each "batch" moves it on by a set amount, and every wait is recorded instead of slept.

/** A prune whose calls take `costs[i]` ms and remove a full batch, until the last, which finds less. */
function scripted(costs: number[], batch: number) {
  let t = 0;
  const waits: number[] = [];
  const clock: PruneClock = {
    now: () => t,
    wait: async (ms) => {
      waits.push(ms);
      t += ms;
    },
  };
  let calls = 0;
  const prune = async () => {
    t += costs[calls++]!;
    return calls < costs.length ? batch : 7;
  };
  return { prune, clock, waits, calls: () => calls };
}

describe('pruneAll', () => {
  it('waits four times as long as each full batch took, and at least 20 ms', async () => {
    const { prune, clock, waits, calls } = scripted([50, 2, 10, 1], 100);
    expect(await pruneAll(prune, new Date(), 100, clock)).toBe(307);
    expect(calls()).toBe(4);
    expect(waits).toEqual([200, 20, 40]);
  });

  it('stops after a call that finds less than a batch, without waiting', async () => {
    const { prune, clock, waits, calls } = scripted([30], 100);
    expect(await pruneAll(prune, new Date(), 100, clock)).toBe(7);
    expect(calls()).toBe(1);
    expect(waits).toEqual([]);
  });
});
