import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { InventoryEvents } from './inventory-events';
import { ActionStatus, type Job } from './model';
import type { Store } from './store';

// Scans that record a snapshot end in one of these.
const RECORDED = new Set<number>([ActionStatus.Complete, ActionStatus.CompletedWithErrors]);

/**
 * Inventory changes recorded by other instances, for this instance's subscribers: told the job states
 * read for other instances' changes (see remote-events.ts), it reads the snapshots their newly finished
 * scans recorded and publishes them. Nothing new crosses between instances: every event path that
 * carries job changes (NOTIFY, EVENTS_URL, the fallback poll) carries these too. Reads only while someone
 * listens; a scan is looked at once.
 */
export function followRemoteInventory(o: { inventory: Store['inventory']; events: InventoryEvents; logger: Logger }): (jobs: readonly Job[]) => void {
  const seen = new LRUCache<string, true>({ max: 100_000 });
  return (jobs) => {
    const finished: string[] = [];
    for (const job of jobs) {
      for (const scan of job.scans) {
        if (!RECORDED.has(scan.status) || seen.has(scan.id)) continue;
        seen.set(scan.id, true);
        finished.push(scan.id);
      }
    }
    if (finished.length === 0 || o.events.listenerCount === 0) return;
    o.inventory.recordedBy(finished).then(
      (updates) => o.events.publish(updates),
      (err: unknown) => o.logger.warn({ err, scans: finished.length }, "could not read other instances' inventory snapshots"),
    );
  };
}
