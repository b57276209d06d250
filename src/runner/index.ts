import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { createBackoff } from '../backoff';
import { isAppError } from '../errors';
import type { ActionStatus, Job } from '../model';
import type { Scanner } from '../scanner';
import type { ClaimedScan, InventoryUpdate, Queue } from '../store';
import { createResultBatcher } from './batcher';
import { createLatch } from './latch';
import { abortReasonOf, cancelled, dispose, type AbortReason } from './outcome';
import { ReadyQueue } from './ready';
import { SlotBudget } from './slots';

export interface RunnerOptions {
  queue: Queue;
  scanner: Scanner;
  logger: Logger;
  /** Told about every job a transition changed, after it committed. */
  publish: (jobs: readonly Job[]) => void;
  /** Told about every inventory snapshot recorded, with its differences from the previous one. */
  publishInventory?: (updates: readonly InventoryUpdate[]) => void;
  concurrency: number;
  /** Of those, scans that talk to their hosts at once, not merely waiting for a silent one. @default min(concurrency, 64) */
  talkingConcurrency?: number;
  /** Scans to lease ahead of a free slot; by default it follows how fast scans and writes are (see SlotBudget). */
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

interface Running {
  scan: ClaimedScan;
  controller: AbortController;
  done: Promise<void>;
}

const RESULT_BATCH_WAIT_MS = 2;
// Measured with bench/fairness.ts on loopback hosts that all answer: 64 scans at once recorded as many
// scans per second as 256 (1,564 against 1,385–1,545) and another caller's single scan in a third of the
// time; scans waiting on silent hosts still use the rest of SCAN_CONCURRENCY.
export const TALKING_CONCURRENCY = 64;
const RESULT_BATCH_MAX = 500;

/**
 * Runs up to `concurrency` scans at once. Each scan has a time limit and an AbortSignal; its lease is
 * extended by a heartbeat while it runs, and expired leases of dead workers are reclaimed and retried.
 * Every state change is one store write followed by one publish. Store failures back off, never spin.
 */
export function createRunner(o: RunnerOptions): Runner {
  const owner = `${process.pid}-${randomUUID()}`;
  const log = o.logger;
  const budget = new SlotBudget(o.concurrency, Math.min(o.concurrency, o.talkingConcurrency ?? TALKING_CONCURRENCY), o.readAhead);
  const latch = createLatch();
  const active = new Map<string, Running>();
  const ready = new ReadyQueue();
  let state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  let loopDone: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | null = null;
  const timers: NodeJS.Timeout[] = [];

  const results = createResultBatcher({
    waitMs: RESULT_BATCH_WAIT_MS,
    moreMayCome: () => budget.probing > 0,
    maxBatch: RESULT_BATCH_MAX,
    // An unreachable or restarting store: the results wait and go again rather than the scans running twice.
    retryable: (err) => isAppError(err) && err.code === 'UNAVAILABLE',
    // Each batch claims the scans for the slots it frees, in its own transaction (not while stopping).
    async send(batch) {
      const refill = state === 'running' ? budget.wanted(ready.length, true) : 0;
      budget.reserve(refill);
      const sent = performance.now();
      try {
        const written = await o.queue.finish(owner, batch, { limit: refill, leaseMs: o.leaseMs });
        budget.wrote(performance.now() - sent);
        return { written, refill };
      } catch (err) {
        budget.unreserve(refill);
        throw err;
      }
    },
    async settle({ written, refill }) {
      try {
        if (written.jobs.length > 0) o.publish(written.jobs);
        if (written.inventory.length > 0) o.publishInventory?.(written.inventory);
        if (state === 'running') take(written.claimed);
        else if (written.claimed.length > 0) o.publish(await o.queue.release(owner, written.claimed.map((c) => c.id)));
      } finally {
        budget.unreserve(refill);
      }
    },
  });

  /** Start waiting scans in the free slots. */
  const fill = () => {
    while (state === 'running' && budget.hasFreeSlot && ready.length > 0) launch(ready.next()!);
  };
  const take = (scans: readonly ClaimedScan[]) => {
    ready.push(scans);
    fill();
  };

  async function loop(): Promise<void> {
    const backoff = createBackoff();
    while (state === 'running') {
      try {
        // While results are being written, their transaction claims what the freed slots need.
        const free = results.busy ? 0 : budget.wanted(ready.length, false);
        let claimedAll = false;
        if (free > 0) {
          budget.reserve(free);
          try {
            const { scans, jobs } = await o.queue.claim(owner, free, o.leaseMs);
            if (jobs.length > 0) o.publish(jobs);
            take(scans);
            claimedAll = scans.length > 0 && scans.length === free;
          } finally {
            budget.unreserve(free);
          }
        }
        backoff.reset();
        if (!claimedAll) await latch.sleep(o.pollMs ?? 1_000);
      } catch (err) {
        const retryInMs = backoff.next();
        log.warn({ err, retryInMs }, 'runner could not claim work; backing off');
        await latch.sleep(retryInMs);
      }
    }
  }

  function launch(scan: ClaimedScan): void {
    const running: Running = { scan, controller: new AbortController(), done: Promise.resolve() };
    active.set(scan.id, running);
    running.done = run(running);
  }

  async function run({ scan, controller }: Running): Promise<void> {
    const timer = setTimeout(() => controller.abort('timeout' satisfies AbortReason), o.timeoutMs);
    const started = performance.now();
    budget.scanStarted();
    let waiting = false;
    let probing = true;
    const onWaiting = (isWaiting: boolean) => {
      if (!probing || isWaiting === waiting) return;
      waiting = isWaiting;
      budget.scanWaiting(isWaiting);
      if (isWaiting) fill();
    };
    try {
      const ended: Parameters<typeof dispose>[0] = { abort: null, timeoutMs: o.timeoutMs };
      try {
        ended.outcome = await o.scanner.scan(scan, controller.signal, { waiting: onWaiting });
      } catch (err) {
        ended.error = err;
      } finally {
        clearTimeout(timer);
        probing = false;
        budget.scanEnded(performance.now() - started, waiting);
        fill();
      }
      ended.abort = abortReasonOf(controller.signal);
      const disposition = dispose(ended);
      if (disposition.kind === 'drop') return;
      if (disposition.kind === 'release') {
        o.publish(await o.queue.release(owner, [scan.id]));
        return;
      }
      if (disposition.unexpected) log.error({ err: disposition.unexpected, scanId: scan.id }, 'scanner failed unexpectedly');
      await results.record(scan.id, disposition.result);
      o.onScanFinished?.(disposition.result.status, (performance.now() - started) / 1000);
    } catch (err) {
      log.error({ err, scanId: scan.id }, 'could not record a scan result; its lease will expire and it will be retried');
    } finally {
      active.delete(scan.id);
      latch.wake();
    }
  }

  let lastRenewal = 0;
  let longestRenewalGapMs = 0;
  async function heartbeat(): Promise<void> {
    const ids = [...active.keys(), ...ready.ids()];
    if (ids.length === 0) {
      lastRenewal = 0;
      return;
    }
    const { held, cancelled } = await o.queue.heartbeat(owner, ids, o.leaseMs);
    const now = performance.now();
    if (lastRenewal > 0) {
      const gap = now - lastRenewal;
      longestRenewalGapMs = Math.max(longestRenewalGapMs, gap);
      if (gap > (o.leaseMs * 2) / 3) log.warn({ gapMs: Math.round(gap), leaseMs: o.leaseMs }, 'lease renewals are late: this process is too busy to keep a safe margin');
    }
    lastRenewal = now;
    unready(ids.filter((id) => !held.has(id)));
    cancel(ids.filter((id) => held.has(id) && cancelled.has(id)));
    for (const id of ids) if (!held.has(id)) active.get(id)?.controller.abort('lease-lost' satisfies AbortReason);
  }

  /** Take these scans out of the waiting ones; returns those that were waiting. */
  function unready(scanIds: readonly string[]): ClaimedScan[] {
    return ready.take(scanIds);
  }

  /** Abort these scans where they run here; those still waiting end Cancelled without running. */
  function cancel(scanIds: readonly string[]): void {
    for (const id of scanIds) active.get(id)?.controller.abort('cancel' satisfies AbortReason);
    for (const scan of unready(scanIds)) {
      results
        .record(scan.id, cancelled('Cancelled before it started'))
        .catch((err: unknown) => log.error({ err, scanId: scan.id }, 'could not record a cancelled scan; its lease will expire and it will be cancelled then'));
    }
  }

  async function reclaim(): Promise<void> {
    const jobs = await o.queue.reclaimExpired(o.retryLimit + 1, o.retryBackoffMs, [...active.keys(), ...ready.ids()]);
    if (jobs.length > 0) {
      log.warn({ jobs: jobs.map((j) => j.id) }, 'reclaimed scans whose worker stopped');
      o.publish(jobs);
      latch.wake();
    }
  }

  const every = (msInterval: number, task: () => Promise<void>, what: string) => {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      task()
        .catch((err: unknown) => log.warn({ err }, `${what} failed`))
        .finally(() => (busy = false));
    }, msInterval);
    timers.push(timer);
  };

  async function drainAndStop(drainMs: number): Promise<void> {
    if (state === 'idle') {
      state = 'stopped';
      return;
    }
    state = 'stopping';
    latch.wake();
    await loopDone;
    // Scans that never started go back to the queue at once, their attempt not counted.
    const waiting = ready.drain().map((s) => s.id);
    if (waiting.length > 0) {
      o.publish(
        await o.queue.release(owner, waiting).catch((err: unknown) => {
          log.warn({ err, scans: waiting }, 'could not hand back scans that had not started; their leases will expire and they will be retried');
          return [];
        }),
      );
    }
    const settled = Promise.all([...active.values()].map((r) => r.done));
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
    await Promise.race([settled, deadline]);
    for (const r of active.values()) r.controller.abort('shutdown' satisfies AbortReason);
    await settled;
    // Heartbeats run until every scan was recorded or handed back.
    for (const t of timers) clearInterval(t);
    state = 'stopped';
  }

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
    wake: () => latch.wake(),
    cancel,
    stop: (drainMs = 10_000) => (stopping ??= drainAndStop(drainMs)),
  };
}
