import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActionFailureReason, ActionStatus, type Creator } from '../src/model';
import type { Store } from '../src/store';
import { backends } from './support/backends';
import { sqlOf } from './support/sql';

// The lease queue's order, on a store of its own so that every queued scan is this file's.

const LEASE = 60_000;
const caller = (subject: string): Creator => ({ subject, userName: subject, address: '127.0.0.1' });
const COMPLETE = { status: ActionStatus.Complete, description: 'ok', failureReason: ActionFailureReason.NoError, hostConnected: true } as const;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`fair lease queue: ${backend.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
    });
    afterAll(() => cleanup());
    // Each test starts from an empty queue, also after one failed half-way.
    afterEach(async () => {
      const active = await sqlOf(store).query<{ job_id: string }>('SELECT DISTINCT job_id FROM host_scans WHERE status IN (0, 1, 7)');
      await cancelAll(active.map((r) => r.job_id));
    });

    const schedule = async (n: number, who: Creator) => {
      const { hosts } = await store.hosts.upsert(Array.from({ length: n }, () => ({ name: `f-${randomUUID()}`, ipAddress: '127.0.0.1' })));
      const result = await store.jobs.schedule(hosts!.map((h) => h.id), who);
      return { jobIds: result.jobs!.map((j) => j.id), batchId: result.batchId! };
    };
    /** Lease `n` scans and hand them back: which jobs the queue offers first. */
    const peek = async (n: number) => {
      const { scans } = await store.queue.claim('peek', n, LEASE);
      await store.queue.release('peek', scans.map((s) => s.id));
      return scans.map((s) => s.jobId);
    };
    /** Run `n` scans one claim at a time (a claim's rows come back in no set order): the order the queue serves. */
    const run = async (n: number) => {
      const order: string[] = [];
      for (let i = 0; i < n; i++) {
        const { scans } = await store.queue.claim('worker', 1, LEASE);
        await store.queue.finish('worker', scans.map((s) => ({ scanId: s.id, result: COMPLETE })));
        order.push(...scans.map((s) => s.jobId));
      }
      return order;
    };
    const cancelAll = async (jobIds: readonly string[]) => {
      for (const id of jobIds) await store.jobs.cancel(id, 'Cancelled by test');
    };

    it('leases another caller\'s scan, queued after a large batch, in the next claim; one caller alone is served in order', async () => {
      const big = await schedule(40, caller('big'));
      const single = await schedule(1, caller('small'));
      const first = await peek(2);
      expect(first).toContain(single.jobIds[0]);
      expect(first).toContain(big.jobIds[0]);
      // The batch's own order is kept: the rest of it runs first to last.
      const rest = (await run(41)).filter((id) => id !== single.jobIds[0]);
      expect(rest).toEqual(big.jobIds);
      expect((await store.queue.depth()).queued).toBe(0);
    });

    it('queues a resumed batch behind scans queued while it was paused, not ahead of them', async () => {
      const paused = await schedule(10, caller('paused'));
      await store.pausing.pause({ batchId: paused.batchId }, 'Paused by test');
      const other = await schedule(10, caller('other'));
      expect(await run(4)).toEqual(other.jobIds.slice(0, 4));
      await store.pausing.resume({ batchId: paused.batchId }, 'Queued (resumed)');
      // Kept turns would put all ten resumed scans first; taking turns, the other caller's next one is among the first two.
      const next = await peek(2);
      expect(next).toContain(other.jobIds[4]);
      expect(next).toContain(paused.jobIds[0]);
    });

    it('keeps a caller\'s turns across its calls: a batch split into single-host calls still takes turns with another caller', async () => {
      const split: string[] = [];
      for (let i = 0; i < 10; i++) split.push(...(await schedule(1, caller('splitter'))).jobIds);
      const single = await schedule(1, caller('small'));
      expect(new Set(await peek(2))).toEqual(new Set([split[0], single.jobIds[0]]));
    });
  });
}
