import type { Job } from './model';

export type JobListener = (job: Job) => void;

/**
 * In-process fan-out of job changes: every committed change of a job is published once, as the job is
 * after the change. Listeners run synchronously and must not throw (a throwing one is dropped).
 */
export class JobEventBus {
  private readonly listeners = new Set<JobListener>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  publish(jobs: readonly Job[]): void {
    for (const job of jobs) {
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

const REVISIONS_KEPT = 10_000;

/**
 * A job stream for one reader. It keeps only the latest state per job (never an older revision than
 * one already delivered), so a slow reader costs at most `maxPending` jobs of memory, and a reader
 * that falls further behind is cut off with SlowConsumerError instead of growing without bound.
 */
export class JobStream implements AsyncIterableIterator<Job> {
  private readonly pending = new Map<string, Job>();
  private readonly delivered = new Map<string, number>();
  private waiting: ((result: IteratorResult<Job>) => void) | null = null;
  private failure: Error | null = null;
  private done = false;
  private readonly unsubscribe: () => void;
  private readonly maxPending: number;

  constructor(bus: JobEventBus, private readonly options: JobStreamOptions = {}) {
    this.maxPending = options.maxPending ?? 1000;
    this.unsubscribe = bus.subscribe((job) => this.push(job));
  }

  /** Offer a state (from the bus, or an initial read); stale revisions are ignored. */
  push(job: Job): void {
    if (this.done || (this.options.jobIds && !this.options.jobIds.has(job.id))) return;
    if ((this.delivered.get(job.id) ?? -1) >= job.revision) return;
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
    this.delivered.delete(job.id);
    this.delivered.set(job.id, job.revision);
    if (this.delivered.size > REVISIONS_KEPT) this.delivered.delete(this.delivered.keys().next().value!);
  }
}
