import type { BatchCounts, BatchProgress } from './model';

/** Percent and ETA from a batch's counts: the rate so far, applied to what is left. */
export function batchProgress(id: string, counts: BatchCounts): BatchProgress {
  const done = counts.complete + counts.failed + counts.cancelled;
  const left = counts.total - done;
  const percent = counts.total === 0 ? 100 : Math.floor((done / counts.total) * 1000) / 10;
  const moving = counts.queued + counts.running > 0;
  const etaSeconds = left === 0 ? 0 : done === 0 || !moving ? null : Math.ceil((left * counts.elapsedSeconds) / done);
  return { ...counts, id, percent, etaSeconds, finished: left === 0 };
}

/** Whether two states of a batch would read the same to a watcher (the clock alone moving is no change). */
export const sameCounts = (a: BatchCounts, b: BatchCounts): boolean =>
  a.total === b.total && a.queued === b.queued && a.running === b.running && a.paused === b.paused &&
  a.complete === b.complete && a.failed === b.failed && a.cancelled === b.cancelled;
