import type { Job } from './model';

export type JobListener = (job: Job) => void;

// A late delivery trails the newest by seconds, not by this many other jobs' changes; the bound keeps the
// map to a few MiB on a gateway that sees tens of thousands of jobs an hour.
const REVISIONS_KEPT = 20_000;

/**
 * In-process fan-out of job changes: every committed change of a job is published once, as the job is
 * after the change. Listeners run synchronously and must not throw (a throwing one is dropped).
 */
export class JobEventBus {
  private readonly listeners = new Set<JobListener>();
  // The newest revision published per job: a state older than one already published (a late or
  // duplicate delivery) is dropped here, once, instead of by every subscriber.
  private readonly revisions = new Map<string, number>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  publish(jobs: readonly Job[]): void {
    for (const job of jobs) {
      if ((this.revisions.get(job.id) ?? -1) >= job.revision) continue;
      this.revisions.delete(job.id);
      this.revisions.set(job.id, job.revision);
      if (this.revisions.size > REVISIONS_KEPT) this.revisions.delete(this.revisions.keys().next().value!);
      for (const listener of this.listeners) {
        try {
          listener(job);
        } catch (err) {
          this.listeners.delete(listener);
          this.onListenerError(err);
        }
      }
    }
  }

  /** The newest revision published for a job, when this bus still remembers it. */
  latestRevision(jobId: string): number | undefined {
    return this.revisions.get(jobId);
  }

  /** Returns the function that unsubscribes. */
  subscribe(listener: JobListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

export interface JobStreamOptions {
  /** Only these jobs; all jobs when absent. */
  jobIds?: ReadonlySet<string>;
  /** Distinct jobs that may wait for a slow reader before it is cut off. @default 1000 */
  maxPending?: number;
}

/** Thrown to a reader that fell too far behind. */
export class SlowConsumerError extends Error {
  override readonly name = 'SlowConsumerError';
}


/**
 * A job stream for one reader. It keeps only the latest state per job (never an older revision than
 * one already delivered), so a slow reader costs at most `maxPending` jobs of memory, and a reader
 * that falls further behind is cut off with SlowConsumerError instead of growing without bound.
 */
export class JobStream implements AsyncIterableIterator<Job> {
  private readonly pending = new Map<string, Job>();
  /** Per watched job, the revision last handed out (id-filtered streams only; bounded by their ids). */
  private readonly delivered: Map<string, number> | null;
  private waiting: ((result: IteratorResult<Job>) => void) | null = null;
  private failure: Error | null = null;
  private done = false;
  private readonly unsubscribe: () => void;
  private readonly maxPending: number;

  constructor(bus: JobEventBus, private readonly options: JobStreamOptions = {}) {
    this.maxPending = options.maxPending ?? 1000;
    this.delivered = options.jobIds ? new Map() : null;
    this.unsubscribe = bus.subscribe((job) => this.push(job));
  }

  /** Offer a state (from the bus, or an initial read); stale revisions are ignored. */
  push(job: Job): void {
    if (this.done || (this.options.jobIds && !this.options.jobIds.has(job.id))) return;
    if ((this.delivered?.get(job.id) ?? -1) >= job.revision) return;
    if ((this.pending.get(job.id)?.revision ?? -1) >= job.revision) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      this.markDelivered(job);
      resolve({ value: job, done: false });
      return;
    }
    this.pending.delete(job.id);
    this.pending.set(job.id, job);
    if (this.pending.size > this.maxPending) this.fail(new SlowConsumerError(`More than ${this.maxPending} job updates were waiting for this reader.`));
  }

  next(): Promise<IteratorResult<Job>> {
    if (this.failure) {
      const err = this.failure;
      this.failure = null;
      return Promise.reject(err);
    }
    const first = this.pending.values().next();
    if (!first.done) {
      this.pending.delete(first.value.id);
      this.markDelivered(first.value);
      return Promise.resolve({ value: first.value, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<Job>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<Job>> {
    this.close();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stop listening; a pending `next()` resolves done. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.unsubscribe();
    this.pending.clear();
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.({ value: undefined, done: true });
  }

  private fail(err: Error): void {
    this.close();
    this.failure = err;
  }

  private markDelivered(job: Job): void {
    this.delivered?.set(job.id, job.revision);
  }
}
