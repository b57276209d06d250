import { LRUCache } from 'lru-cache';
import type { InventoryUpdate } from './store';

/** Thrown to an inventory reader that fell too far behind. */
export class InventoryBacklogError extends Error {
  override readonly name = 'InventoryBacklogError';
}

/**
 * In-process fan-out of recorded inventory snapshots with their differences. Unlike job states, every
 * difference counts, so nothing is coalesced: a reader more than `maxPending` updates behind is cut off.
 */
export class InventoryEvents {
  private readonly listeners = new Set<(update: InventoryUpdate) => void>();
  // A snapshot can reach this instance twice: from its own runner and again through another instance's
  // announcement of the same job (see remote-inventory.ts). Recent ones are remembered and sent once.
  private readonly sent = new LRUCache<string, true>({ max: 10_000 });

  publish(updates: readonly InventoryUpdate[]): void {
    for (const update of updates) {
      if (this.sent.has(update.snapshotId)) continue;
      this.sent.set(update.snapshotId, true);
      for (const listener of this.listeners) listener(update);
    }
  }

  /** A stream of updates that pass `filter`, from now on. */
  stream(filter: (update: InventoryUpdate) => boolean = () => true, maxPending = 1000): AsyncIterableIterator<InventoryUpdate> {
    const pending: InventoryUpdate[] = [];
    let waiting: ((r: IteratorResult<InventoryUpdate>) => void) | null = null;
    let failure: Error | null = null;
    let done = false;
    const listener = (update: InventoryUpdate) => {
      if (done || !filter(update)) return;
      if (waiting) {
        const w = waiting;
        waiting = null;
        return w({ value: update, done: false });
      }
      pending.push(update);
      if (pending.length > maxPending) {
        pending.length = 0;
        failure = new InventoryBacklogError(`More than ${maxPending} inventory updates were waiting for this reader.`);
        close();
      }
    };
    const close = () => {
      if (done) return;
      done = true;
      this.listeners.delete(listener);
      const w = waiting;
      waiting = null;
      w?.({ value: undefined, done: true });
    };
    this.listeners.add(listener);
    const iterator: AsyncIterableIterator<InventoryUpdate> = {
      next() {
        if (pending.length > 0) return Promise.resolve({ value: pending.shift()!, done: false });
        if (failure) {
          const err = failure;
          failure = null;
          return Promise.reject(err);
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return() {
        close();
        pending.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
