import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

export type Prune = (before: Date, limit: number) => Promise<number>;

// Between two batches the store is left to other work (scans' results, claims) for a moment.
const PAUSE_MS = 20;

/** Prune everything older than `before`, `batch` rows per call, until a call finds less. Returns how many went. */
export async function pruneAll(prune: Prune, before: Date, batch: number): Promise<number> {
  let removed = 0;
  for (let n = batch; n === batch; removed += n) {
    n = await prune(before, batch);
    if (n === batch) await sleep(PAUSE_MS);
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
