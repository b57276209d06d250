import { sameCounts } from './batch';
import type { JobEventBus } from './events';
import type { BatchProgress } from './model';

export interface BatchStreamOptions {
  /** The batch's jobs: a change of any of them makes the progress worth reading again. */
  jobIds: ReadonlySet<string>;
  /** Reads the batch's progress from the store. */
  read: () => Promise<BatchProgress | null>;
  /** Shortest gap between two reads, and so between two messages. */
  intervalMs: number;
}

// Job events from other instances can be missed while the LISTEN connection is down: read now and then
// even without one, so a watcher never waits on a lost announcement for ever.
const SAFETY_READS = 20;

/**
 * One watcher's batch progress. Job changes only mark it stale; it is read from the store at most once
 * per interval, and only a state whose counts differ from the last one is handed out. A reader that is
 * slow gets the newest state, never a backlog, so a 10,000-host batch costs a few messages a second.
 * Ends after the state in which nothing is left queued, running or paused.
 */
export class BatchStream implements AsyncIterableIterator<BatchProgress> {
  private last: BatchProgress | null = null;
  private pending: BatchProgress | null = null;
  private waiting: ((result: IteratorResult<BatchProgress>) => void) | null = null;
  private stale = false;
  private reading = false;
  private lastReadAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly safety: NodeJS.Timeout;
  private ending = false;
  private done = false;
  private readonly unsubscribe: () => void;

  constructor(bus: JobEventBus, private readonly options: BatchStreamOptions) {
    this.unsubscribe = bus.subscribe((job) => {
      if (options.jobIds.has(job.id)) this.markStale();
    });
    this.safety = setInterval(() => this.markStale(), options.intervalMs * SAFETY_READS);
    this.safety.unref();
  }

  /** Offer a state (the first read, or a later one); states that count the same as the last are dropped. */
  offer(progress: BatchProgress): void {
    if (this.done || this.ending) return;
    if (this.last && sameCounts(this.last, progress)) return;
    this.last = progress;
    if (progress.finished) {
      this.ending = true;
      this.stopWatching();
    }
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = null;
      waiting({ value: progress, done: false });
    } else {
      this.pending = progress;
    }
  }

  private markStale(): void {
    this.stale = true;
    if (this.done || this.ending || this.timer || this.reading) return;
    const wait = Math.max(0, this.lastReadAt + this.options.intervalMs - Date.now());
    this.timer = setTimeout(() => void this.refresh(), wait);
  }

  private async refresh(): Promise<void> {
    this.timer = null;
    if (!this.stale || this.done) return;
    this.stale = false;
    this.reading = true;
    this.lastReadAt = Date.now();
    try {
      const progress = await this.options.read();
      if (progress) this.offer(progress);
    } catch {
      // The store is away for a moment (UNAVAILABLE): the next change or safety read tries again.
      this.stale = true;
    } finally {
      this.reading = false;
    }
    if (this.stale && !this.ending && !this.done) this.markStale();
  }

  next(): Promise<IteratorResult<BatchProgress>> {
    if (this.pending) {
      const value = this.pending;
      this.pending = null;
      return Promise.resolve({ value, done: false });
    }
    if (this.done || this.ending) {
      this.close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<BatchProgress>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.stopWatching();
    this.pending = null;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.({ value: undefined, done: true });
  }

  private stopWatching(): void {
    this.unsubscribe();
    clearInterval(this.safety);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
