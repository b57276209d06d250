import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { createBackoff } from '../backoff';
import { unavailable } from '../errors';
import type { Reply, Request } from './pglite-worker';

export type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const RESTARTED = 'The embedded store restarted; try again.';

/**
 * The embedded database's worker thread, restarted when it dies. Calls in flight when it dies fail with
 * UNAVAILABLE (a 503 the caller may retry: a store operation is one transaction on that thread, so it
 * either committed before the thread died or left nothing behind); calls made while it restarts fail the
 * same way at once. After a restart `onRestart` runs first (to set the new thread up as the old one
 * was), then calls flow again. Transactions begun on a dead thread end with UNAVAILABLE too.
 */
export class WorkerLink {
  private worker: Worker | null = null;
  private generation = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private restarting: Promise<void> | null = null;
  private closing = false;

  constructor(
    private readonly file: string,
    private readonly workerData: unknown,
    private readonly o: { logger: Logger; onRestart: () => Promise<void> },
  ) {}

  /** Start the first thread; rejects with why the database did not open. */
  async start(): Promise<void> {
    await this.spawn();
  }

  /** Whether calls can be made now (not restarting, not closed). */
  get up(): boolean {
    return this.worker !== null && !this.restarting && !this.closing;
  }

  /** The thread's generation: a transaction begun in one generation cannot end in another. */
  get current(): number {
    return this.generation;
  }

  call<T>(request: Call, generation?: number): Promise<T> {
    if (this.closing && request.op !== 'close') return Promise.reject(unavailable('The embedded store is closed.'));
    if (!this.worker || (this.restarting && !this.settingUp) || (generation !== undefined && generation !== this.generation)) {
      return Promise.reject(unavailable(RESTARTED));
    }
    const id = this.nextId++;
    const worker = this.worker;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...request, id });
    });
  }

  /** Stop for good: close the database on its thread, then end the thread. */
  async close(): Promise<void> {
    this.closing = true;
    await this.restarting?.catch(() => {});
    await this.call({ op: 'close' }).catch(() => {});
    await this.worker?.terminate();
    this.worker = null;
  }

  /** Kill the thread as a crash would (tests of the restart only). */
  async terminateForTests(): Promise<void> {
    await this.worker?.terminate();
  }

  private settingUp = false;

  private spawn(): Promise<void> {
    const worker = new Worker(this.file, { workerData: this.workerData });
    const generation = ++this.generation;
    this.worker = worker;
    const opened = new Promise<void>((resolve, reject) => this.pending.set(0, { resolve: () => resolve(), reject }));
    worker.on('message', (reply: Reply) => {
      const call = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (!call) return;
      if ('error' in reply) call.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}));
      else call.resolve((reply as { value: unknown }).value);
    });
    const died = (why: string) => {
      if (this.generation !== generation || this.worker !== worker) return;
      this.worker = null;
      const err = this.closing ? unavailable('The embedded store is closed.') : unavailable(RESTARTED);
      for (const call of this.pending.values()) call.reject(err);
      this.pending.clear();
      if (!this.closing) {
        this.o.logger.error({ why }, 'the embedded store thread died; restarting it on the same data directory');
        this.restart();
      }
    };
    worker.on('error', (err) => died(err.message));
    worker.on('exit', (code) => died(`exit ${code}`));
    return opened;
  }

  private restart(): void {
    const backoff = createBackoff(100, 5_000);
    this.restarting ??= (async () => {
      while (!this.closing) {
        try {
          await this.spawn();
          this.settingUp = true;
          try {
            await this.o.onRestart();
          } finally {
            this.settingUp = false;
          }
          this.o.logger.warn('the embedded store thread is back');
          return;
        } catch (err) {
          const retryInMs = backoff.next();
          this.o.logger.error({ err, retryInMs }, 'the embedded store thread did not come back; trying again');
          await this.worker?.terminate().catch(() => {});
          await new Promise((r) => setTimeout(r, retryInMs));
        }
      }
    })().finally(() => (this.restarting = null));
  }
}
