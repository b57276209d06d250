import type { JobEventBus } from './events';
import type { Job } from './model';
import type { ChangePosition, Store } from './store';

const FIRST_ID = '00000000-0000-0000-0000-000000000000';

/**
 * Reads job changes from the store while notifications may be missing. A sweep reads the jobs changed
 * since the last point known heard, less an overlap (a change is stamped with its transaction's start, so
 * one that began before that point may commit after it), in pages of at most `pageSize`; it publishes the
 * states the bus does not know yet. The bus drops states it already has, so reading one twice is harmless.
 */
export function createChangePoll(o: {
  jobs: Pick<Store['jobs'], 'changesAfter' | 'getJobs'>;
  events: JobEventBus;
  /** Where the states read go (the bus, and whoever else follows other instances' changes). */
  publish: (jobs: readonly Job[]) => void;
  pageSize: number;
  overlapMs: number;
}) {
  let from: number | null = null;
  let position: ChangePosition | null = null;
  let sweepStartedAt: number | null = null;
  return {
    /** Every change committed before `at` (database time, µs) was heard; the next sweep starts there. */
    heardUntil(at: number): void {
      if (!position && (from === null || at > from)) from = at;
    },
    /** Whether the next step begins a sweep (the last one reached the present). */
    atSweepStart: (): boolean => position === null,
    /** Read one page; true when the sweep reached the present. */
    async step(): Promise<boolean> {
      if (from === null) throw new Error('heardUntil must be called before the first sweep.');
      position ??= { at: from - o.overlapMs * 1000, id: FIRST_ID };
      const page = await o.jobs.changesAfter(position, o.pageSize);
      sweepStartedAt ??= page.now;
      const unknown = page.changes.filter((c) => c.revision > (o.events.latestRevision(c.id) ?? -1));
      if (unknown.length > 0) o.publish(await o.jobs.getJobs(unknown.map((c) => c.id)));
      if (page.changes.length === o.pageSize) {
        position = page.changes.at(-1)!;
        return false;
      }
      from = sweepStartedAt;
      position = null;
      sweepStartedAt = null;
      return true;
    },
  };
}
