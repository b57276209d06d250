import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ActionFailureReason, ActionStatus, type Job } from './model';
import type { Scanner } from './scanner';
import type { ClaimedScan, Queue, ScanResult } from './store';

export interface RunnerOptions {
  queue: Queue;
  scanner: Scanner;
  logger: Logger;
  /** Told about every job a transition changed, after it committed. */
  publish: (jobs: readonly Job[]) => void;
  concurrency: number;
  /** Scans to lease ahead of a free slot; by default it follows how fast scans and writes are (see below). */
  readAhead?: number;
  timeoutMs: number;
  leaseMs: number;
  retryLimit: number;
  retryBackoffMs: number;
  /** How often to look for due work when nothing wakes the runner. @default 1000 */
  pollMs?: number;
  /** Told how each recorded scan ended and how long it took. */
  onScanFinished?: (status: ActionStatus, seconds: number) => void;
}

type AbortReason = 'cancel' | 'timeout' | 'lease-lost' | 'shutdown';

const RESULT_BATCH_WAIT_MS = 2;

interface PendingResult {
  scanId: string;
  result: ScanResult;
  settle: (err?: unknown) => void;
}

interface WrittenBatch {
  batch: PendingResult[];
  refill: number;
  written: { jobs: Job[]; claimed: ClaimedScan[] } | { error: unknown };
}

interface Running {
  scan: ClaimedScan;
  controller: AbortController;
  done: Promise<void>;
}

/** Leases queued host scans and runs them; see createRunner. */
export interface Runner {
  readonly owner: string;
  start(): void;
  /** Look for work now (a scan was scheduled). */
  wake(): void;
  /** Abort these scans if they run here; they end Cancelled. */
  cancel(scanIds: readonly string[]): void;
  /** Scans in flight on this instance. */
  readonly inFlight: number;
  /**
   * The longest time between two lease renewals while scans were held, in ms: the lease's real margin is
   * SCAN_LEASE_MS minus this. A busy process renews late; past the lease, another instance may retry.
   */
  readonly longestRenewalGapMs: number;
  readonly running: boolean;
  /** Stop claiming, let scans in flight finish for up to `drainMs`, then hand the rest back. Idempotent. */
  stop(drainMs?: number): Promise<void>;
}

/**
 * Runs up to `concurrency` scans at once. Each scan has a time limit and an AbortSignal; its lease is
 * extended by a heartbeat while it runs, and expired leases of dead workers are reclaimed and retried.
 * Every state change is one store write followed by one publish. Store failures back off, never spin.
 */
export function createRunner(o: RunnerOptions): Runner {
  const owner = `${process.pid}-${randomUUID()}`;
  const pollMs = o.pollMs ?? 1_000;
  // Scans launched and not yet recorded; `probing` of them are talking to their host. Beside them, `ready`
  // holds scans leased ahead and waiting for a slot, so that a slot that frees starts its next scan at once
  // instead of after a round trip to the store. Only the claims that ride with written results lease ahead
  // (scans are finishing, so slots are freeing), and as many as slots free while one batch is written
  // (concurrency × write time / scan time, from moving averages): none when scans are slow, so waiting work
  // stays Queued and free for other instances; up to `concurrency` when they are fast.
  const active = new Map<string, Running>();
  const ready: ClaimedScan[] = [];
  let probing = 0;
  let scanMs = 0;
  let writeMs = 0;
  const average = (avg: number, sample: number) => (avg === 0 ? sample : avg + 0.2 * (sample - avg));
  const readAhead = () => o.readAhead ?? (scanMs > 0 ? Math.min(o.concurrency, Math.round((o.concurrency * writeMs) / scanMs)) : 0);
  let state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  let wakeUp: (() => void) | null = null;
  let loopDone: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | null = null;
  const timers: NodeJS.Timeout[] = [];

  // A wake-up that arrives while the loop is busy (claiming) is remembered, not lost: otherwise the loop
  // would sleep a whole poll interval with free slots and due work.
  let wakePending = false;
  const wake = () => {
    const w = wakeUp;
    wakeUp = null;
    if (w) w();
    else wakePending = true;
  };
  const sleep = (msToWait: number) =>
    new Promise<void>((resolve) => {
      if (wakePending) {
        wakePending = false;
        return resolve();
      }
      const timer = setTimeout(() => {
        wakeUp = null;
        resolve();
      }, msToWait);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  // Leases promised to claims under way, so two claims at once cannot overfill the runner.
  let reserved = 0;
  const wanted = (ahead: boolean) => Math.max(0, Math.min(o.concurrency + (ahead ? readAhead() : 0) - probing - ready.length - reserved, 256));

  /** Start waiting scans in the free slots. */
  const fill = () => {
    while (state === 'running' && probing < o.concurrency && ready.length > 0) launch(ready.shift()!);
  };
  const take = (scans: readonly ClaimedScan[]) => {
    ready.push(...scans);
    fill();
  };

  async function loop(): Promise<void> {
    let backoff = 0;
    while (state === 'running') {
      try {
        // While results are being written, their transaction claims what the freed slots need.
        const free = writing ? 0 : wanted(false);
        let claimedAll = false;
        if (free > 0) {
          reserved += free;
          try {
            const { scans, jobs } = await o.queue.claim(owner, free, o.leaseMs);
            if (jobs.length > 0) o.publish(jobs);
            take(scans);
            claimedAll = scans.length > 0 && scans.length === free;
          } finally {
            reserved -= free;
          }
        }
        backoff = 0;
        if (!claimedAll) await sleep(pollMs);
      } catch (err) {
        backoff = Math.min(Math.max(250, backoff * 2), 5_000);
        o.logger.warn({ err, retryInMs: backoff }, 'runner could not claim work; backing off');
        await sleep(backoff);
      }
    }
  }

  function launch(scan: ClaimedScan): void {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort('timeout' satisfies AbortReason), o.timeoutMs);
    const started = performance.now();
    probing++;
    const done = o.scanner
      .scan(scan, controller.signal)
      .finally(() => {
        probing--;
        scanMs = average(scanMs, performance.now() - started);
        fill();
      })
      .then(
        (outcome): ScanResult => ({
          status: outcome.ok ? ActionStatus.Complete : ActionStatus.Failed,
          description: outcome.description,
          failureReason: outcome.ok ? ActionFailureReason.NoError : (outcome.failureReason ?? ActionFailureReason.UnknownError),
          ipAddress: outcome.ipAddress,
          os: outcome.os,
          version: outcome.version,
          hostConnected: outcome.hostConnected,
        }),
        (err: unknown) => resultOfAbort(controller.signal, err),
      )
      .then(async (result) => {
        clearTimeout(timer);
        const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : null;
        if (reason === 'lease-lost') return;
        if (reason === 'shutdown') {
          o.publish(await o.queue.release(owner, [scan.id]));
          return;
        }
        await record(scan.id, result!);
        o.onScanFinished?.(result!.status, (performance.now() - started) / 1000);
      })
      .catch((err: unknown) => o.logger.error({ err, scanId: scan.id }, 'could not record a scan result; its lease will expire and it will be retried'))
      .finally(() => {
        active.delete(scan.id);
        wake();
      });
    active.set(scan.id, { scan, controller, done });
  }

  /**
   * Results are written in batches: while one batch is being written, the next collects. Under load this
   * turns one transaction per scan into one per batch; when idle a result is written at once.
   */
  const pendingResults: PendingResult[] = [];
  let writing: Promise<void> | null = null;

  function record(scanId: string, result: ScanResult): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      pendingResults.push({ scanId, result, settle: (err) => (err ? reject(err) : resolve()) });
      writing ??= writeResults();
    });
  }

  /** Send the pending results to the store, with a claim for the slots they free (not while stopping). */
  function writeBatch(): Promise<WrittenBatch> {
    const batch = pendingResults.splice(0, 500);
    const refill = state === 'running' ? wanted(true) : 0;
    reserved += refill;
    const results = batch.map(({ scanId, result }) => ({ scanId, result })); // plain data: it may cross to the store's thread
    const sent = performance.now();
    return o.queue.finish(owner, results, { limit: refill, leaseMs: o.leaseMs }).then(
      (written) => {
        writeMs = average(writeMs, performance.now() - sent);
        return { batch, refill, written };
      },
      (error: unknown) => ({ batch, refill, written: { error } }),
    );
  }

  async function writeResults(): Promise<void> {
    // A short wait first lets a burst of finishing scans land in one transaction.
    await new Promise((resolve) => setTimeout(resolve, RESULT_BATCH_WAIT_MS));
    let next = pendingResults.length > 0 ? writeBatch() : null;
    while (next) {
      const { batch, refill, written } = await next;
      // The store starts on the next batch while this one's replacements are launched and announced.
      next = pendingResults.length > 0 ? writeBatch() : null;
      try {
        if ('error' in written) throw written.error;
        if (written.jobs.length > 0) o.publish(written.jobs);
        if (state === 'running') take(written.claimed);
        else if (written.claimed.length > 0) o.publish(await o.queue.release(owner, written.claimed.map((c) => c.id)));
        for (const item of batch) item.settle();
      } catch (err) {
        for (const item of batch) item.settle(err);
      } finally {
        reserved -= refill;
      }
      next ??= pendingResults.length > 0 ? writeBatch() : null;
    }
    writing = null;
  }

  function resultOfAbort(signal: AbortSignal, err: unknown): ScanResult | undefined {
    const base = { hostConnected: false, ipAddress: null };
    switch (signal.aborted ? (signal.reason as AbortReason) : null) {
      case 'cancel':
        return { ...base, status: ActionStatus.Cancelled, description: 'Cancelled while running', failureReason: ActionFailureReason.NoError };
      case 'timeout':
        return { ...base, status: ActionStatus.Failed, description: `Timed out after ${o.timeoutMs} ms`, failureReason: ActionFailureReason.ActionTimeout };
      case 'lease-lost':
      case 'shutdown':
        return undefined;
      default:
        o.logger.error({ err }, 'scanner failed unexpectedly');
        return {
          ...base,
          status: ActionStatus.Failed,
          description: `Scanner error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300),
          failureReason: ActionFailureReason.SystemError,
        };
    }
  }

  let lastRenewal = 0;
  let longestRenewalGapMs = 0;
  async function heartbeat(): Promise<void> {
    const ids = [...active.keys(), ...ready.map((s) => s.id)];
    if (ids.length === 0) {
      lastRenewal = 0;
      return;
    }
    const { held, cancelled } = await o.queue.heartbeat(owner, ids, o.leaseMs);
    const now = performance.now();
    if (lastRenewal > 0) {
      const gap = now - lastRenewal;
      longestRenewalGapMs = Math.max(longestRenewalGapMs, gap);
      if (gap > (o.leaseMs * 2) / 3) o.logger.warn({ gapMs: Math.round(gap), leaseMs: o.leaseMs }, 'lease renewals are late: this process is too busy to keep a safe margin');
    }
    lastRenewal = now;
    unready(ids.filter((id) => !held.has(id)));
    cancel(ids.filter((id) => held.has(id) && cancelled.has(id)));
    for (const id of ids) if (!held.has(id)) active.get(id)?.controller.abort('lease-lost' satisfies AbortReason);
  }

  /** Take these scans out of the waiting ones; returns those that were waiting. */
  function unready(scanIds: readonly string[]): ClaimedScan[] {
    const ids = new Set(scanIds);
    const taken = ready.filter((s) => ids.has(s.id));
    if (taken.length > 0) ready.splice(0, ready.length, ...ready.filter((s) => !ids.has(s.id)));
    return taken;
  }

  /** Abort these scans where they run here; those still waiting end Cancelled without running. */
  function cancel(scanIds: readonly string[]): void {
    for (const id of scanIds) active.get(id)?.controller.abort('cancel' satisfies AbortReason);
    for (const scan of unready(scanIds)) {
      record(scan.id, { hostConnected: false, ipAddress: null, status: ActionStatus.Cancelled, description: 'Cancelled before it started', failureReason: ActionFailureReason.NoError })
        .catch((err: unknown) => o.logger.error({ err, scanId: scan.id }, 'could not record a cancelled scan; its lease will expire and it will be cancelled then'));
    }
  }

  async function reclaim(): Promise<void> {
    const jobs = await o.queue.reclaimExpired(o.retryLimit + 1, o.retryBackoffMs, [...active.keys(), ...ready.map((s) => s.id)]);
    if (jobs.length > 0) {
      o.logger.warn({ jobs: jobs.map((j) => j.id) }, 'reclaimed scans whose worker stopped');
      o.publish(jobs);
      wake();
    }
  }

  const every = (msInterval: number, task: () => Promise<void>, what: string) => {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      task()
        .catch((err: unknown) => o.logger.warn({ err }, `${what} failed`))
        .finally(() => (busy = false));
    }, msInterval);
    timers.push(timer);
  };

  return {
    owner,
    get inFlight() {
      return active.size;
    },
    get longestRenewalGapMs() {
      return longestRenewalGapMs;
    },
    get running() {
      return state === 'running';
    },
    start() {
      if (state !== 'idle') return;
      state = 'running';
      every(Math.max(100, Math.floor(o.leaseMs / 3)), heartbeat, 'lease heartbeat');
      every(Math.max(250, Math.floor(o.leaseMs / 2)), reclaim, 'lease reclaim');
      loopDone = loop();
    },
    wake,
    cancel,
    stop(drainMs = 10_000) {
      stopping ??= (async () => {
        if (state === 'idle') {
          state = 'stopped';
          return;
        }
        state = 'stopping';
        wake();
        await loopDone;
        // Scans that never started go back to the queue at once, their attempt not counted.
        const waiting = ready.splice(0).map((s) => s.id);
        if (waiting.length > 0) {
          o.publish(await o.queue.release(owner, waiting).catch((err: unknown) => {
            o.logger.warn({ err, scans: waiting }, 'could not hand back scans that had not started; their leases will expire and they will be retried');
            return [];
          }));
        }
        const settled = Promise.all([...active.values()].map((r) => r.done));
        const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
        await Promise.race([settled, deadline]);
        for (const r of active.values()) r.controller.abort('shutdown' satisfies AbortReason);
        await settled;
        // Heartbeats run until every scan was recorded or handed back.
        for (const t of timers) clearInterval(t);
        state = 'stopped';
      })();
      return stopping;
    },
  };
}
