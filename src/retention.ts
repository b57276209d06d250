import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

export type Prune = (before: Date, limit: number) => Promise<number>;

/**
 * Finished jobs removed per transaction. Each one holds the embedded store's only connection (and on
 * PostgreSQL the rows and index pages it touches) while it runs, so a scan's write can wait that long:
 * bench/retention.ts measured a 500-job batch at 70-110 ms median on a shared 2-core machine.
 */
export const JOB_PRUNE_BATCH = 100;

// After each batch the store is left to other work (scans' results, claims) YIELD times as long as the
// batch took, and at least PAUSE_MS: pruning then takes at most a fifth of the store's time however slow
// the machine is, instead of most of it (a fixed 20 ms pause after a 100 ms batch).
const PAUSE_MS = 20;
const YIELD = 4;

/** How pruneAll tells time and waits: the real clock, or a test's. */
export interface PruneClock {
  now(): number;
  wait(ms: number): Promise<unknown>;
}
const realClock: PruneClock = { now: () => performance.now(), wait: (ms) => sleep(ms) };

/** Prune everything older than `before`, `batch` rows per call, until a call finds less. Returns how many went. */
export async function pruneAll(prune: Prune, before: Date, batch: number, clock: PruneClock = realClock): Promise<number> {
  let removed = 0;
  for (let n = batch; n === batch; removed += n) {
    const started = clock.now();
    n = await prune(before, batch);
    if (n === batch) await clock.wait(Math.max(PAUSE_MS, YIELD * (clock.now() - started)));
  }
  return removed;
}

/**
 * Prune what is older than `days`, hourly and a minute after start, in small batches so a long backlog
 * never holds the store. Returns the function that stops it.
 */
export function keepFor(o: { what: string; days: number; prune: Prune; logger: Logger; batch?: number; onRemoved?: (n: number) => void }): () => void {
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= (async () => {
      const before = new Date(Date.now() - o.days * 86_400_000);
      const removed = await pruneAll(o.prune, before, o.batch ?? 500);
      if (removed > 0) {
        o.logger.info({ removed, before }, `${o.what} past the retention removed`);
        o.onRemoved?.(removed);
      }
    })()
      .catch((err: unknown) => o.logger.warn({ err }, `could not remove ${o.what} past the retention`))
      .finally(() => (running = null));
  };
  const first = setTimeout(run, 60_000);
  const hourly = setInterval(run, 3_600_000);
  first.unref();
  hourly.unref();
  return () => {
    clearTimeout(first);
    clearInterval(hourly);
  };
}
