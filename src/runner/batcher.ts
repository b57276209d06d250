import { createBackoff } from '../backoff';
import type { ScanResult } from '../store';

/** A result on its way to the store. */
export interface PendingResult {
  scanId: string;
  result: ScanResult;
}

export interface BatcherOptions<W> {
  /** Wait this long before the first write of a burst, so finishing scans land in one transaction. */
  waitMs: number;
  /** Whether more results may come soon (scans are running): when not, a lone result is written at once. */
  moreMayCome?: () => boolean;
  maxBatch: number;
  /** Write one batch (and whatever rides with it). */
  send(batch: PendingResult[]): Promise<W>;
  /** Act on a written batch; if it throws, the batch's callers see the error. Runs while the next batch is being written. */
  settle(written: W): Promise<void> | void;
  /**
   * Whether a failed write may be sent again as it is (the store was restarting: the batch either
   * committed or left nothing, and recording a result twice is a no-op). Such a batch goes back to the
   * front, up to `retries` times with a growing pause, instead of failing its scans.
   */
  retryable?: (err: unknown) => boolean;
  retries?: number;
}

/**
 * Results are written in batches: while one batch is being written, the next collects. Under load this
 * turns one transaction per scan into one per batch; when idle a result is written after `waitMs`, or at
 * once when no other result may come.
 * Each `record` resolves once its batch was written and settled, or rejects with why not.
 */
export function createResultBatcher<W>(o: BatcherOptions<W>) {
  const pending: (PendingResult & { done: (err?: unknown) => void; tries: number })[] = [];
  let writing: Promise<void> | null = null;
  const retries = o.retries ?? 10;

  const sendNext = () => {
    const batch = pending.splice(0, o.maxBatch);
    return o.send(batch.map(({ scanId, result }) => ({ scanId, result }))).then(
      (written) => ({ batch, written, error: null }),
      (error: unknown) => ({ batch, written: null, error: error ?? new Error('write failed') }),
    );
  };

  async function drain(): Promise<void> {
    const backoff = createBackoff(200, 2_000);
    if (o.moreMayCome?.() ?? true) await new Promise((resolve) => setTimeout(resolve, o.waitMs));
    let next = pending.length > 0 ? sendNext() : null;
    while (next) {
      const { batch, written, error } = await next;
      if (error && o.retryable?.(error) && batch.every((item) => item.tries < retries)) {
        for (const item of batch) item.tries++;
        pending.unshift(...batch);
        await new Promise((resolve) => setTimeout(resolve, backoff.next()));
        next = sendNext();
        continue;
      }
      backoff.reset();
      // The store starts on the next batch while this one is settled.
      next = pending.length > 0 ? sendNext() : null;
      let failure: unknown = error;
      if (!failure) {
        try {
          await o.settle(written as W);
        } catch (err) {
          failure = err;
        }
      }
      for (const item of batch) item.done(failure ?? undefined);
      next ??= pending.length > 0 ? sendNext() : null;
    }
    writing = null;
  }

  return {
    record(scanId: string, result: ScanResult): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ scanId, result, tries: 0, done: (err) => (err ? reject(err) : resolve()) });
        writing ??= drain();
      });
    },
    /** Whether a write is under way (its transaction claims what the freed slots need). */
    get busy(): boolean {
      return writing !== null;
    },
  };
}
