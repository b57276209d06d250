import { LRUCache } from 'lru-cache';
import { isJobTerminal, type Job } from './model';
import { createPacer, type Pacer } from './pacer';

export type JobListener = (job: Job) => void;

// A late delivery trails the newest by seconds, not by this many other jobs' changes; the bound keeps the
// map to a few MiB on a gateway that sees tens of thousands of jobs an hour.
const REVISIONS_KEPT = 20_000;

/**
 * In-process fan-out of job changes: every committed change of a job is published once, as the job is
 * after the change. Listeners must not throw (a throwing one is dropped). Delivery is synchronous while
 * it fits in the pacer's time slice; a larger burst (a thousand jobs to hundreds of subscribers) goes out
 * over several turns of the event loop, in publish order, so it never stalls timers and I/O for long.
 * `latestRevision` knows every published state at once, delivered or not.
 */
export class JobEventBus {
  private readonly listeners = new Set<JobListener>();
  // The newest revision published per job: a state older than one already published (a late or
  // duplicate delivery) is dropped here, once, instead of by every subscriber.
  private readonly revisions = new LRUCache<string, number>({ max: REVISIONS_KEPT });
  private queue: Job[] = [];
  private head = 0;
  private delivering = false;

  constructor(
    private readonly onListenerError: (err: unknown) => void = () => {},
    private readonly pacer: Pacer = createPacer(),
  ) {}

  publish(jobs: readonly Job[]): void {
    for (const job of jobs) {
      if ((this.revisions.get(job.id) ?? -1) >= job.revision) continue;
      this.revisions.set(job.id, job.revision);
      this.queue.push(job);
    }
    if (!this.delivering) this.deliver();
  }

  private deliver(): void {
    this.delivering = true;
    while (this.head < this.queue.length) {
      const turn = this.pacer.pace();
      if (turn) {
        void turn.then(() => this.deliver());
        return;
      }
      const job = this.queue[this.head++]!;
      for (const listener of this.listeners) {
        try {
          listener(job);
        } catch (err) {
          this.listeners.delete(listener);
          this.onListenerError(err);
        }
      }
    }
    this.queue = [];
    this.head = 0;
    this.delivering = false;
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
  /** End the stream once every job in `jobIds` was delivered in a terminal state. */
  untilTerminal?: boolean;
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
  private cursor: MapIterator<Job> | null = null;
  /** Per watched job, the revision last handed out (id-filtered streams only; bounded by their ids). */
  private readonly delivered: Map<string, number> | null;
  private waiting: ((result: IteratorResult<Job>) => void) | null = null;
  private failure: Error | null = null;
  private done = false;
  private readonly unsubscribe: () => void;
  private readonly maxPending: number;
  /** With `untilTerminal`: the watched jobs not yet delivered in a terminal state. */
  private readonly open: Set<string> | null;

  constructor(bus: JobEventBus, private readonly options: JobStreamOptions = {}) {
    this.maxPending = options.maxPending ?? 1000;
    this.delivered = options.jobIds ? new Map() : null;
    this.open = options.untilTerminal && options.jobIds ? new Set(options.jobIds) : null;
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
    // A newer state takes the place of the one waiting, so a job keeps its turn in the queue.
    this.pending.set(job.id, job);
    if (this.pending.size > this.maxPending) this.fail(new SlowConsumerError(`More than ${this.maxPending} job updates were waiting for this reader.`));
  }

  next(): Promise<IteratorResult<Job>> {
    if (this.failure) {
      const err = this.failure;
      this.failure = null;
      return Promise.reject(err);
    }
    // One iterator walks the queue: a fresh `values()` per call would step over every entry already
    // taken (Map keeps deleted slots until it rehashes), which made draining a long queue quadratic.
    this.cursor ??= this.pending.values();
    const first = this.cursor.next();
    if (!first.done) {
      this.pending.delete(first.value.id);
      this.markDelivered(first.value);
      return Promise.resolve({ value: first.value, done: false });
    }
    this.cursor = null;
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
    if (this.open && isJobTerminal(job)) {
      this.open.delete(job.id);
      // The last terminal state is still handed out; the call after it reports done.
      if (this.open.size === 0) this.close();
    }
  }
}
