import type { Logger } from 'pino';
import type { AuditEntry } from '../audit';
import type { Job } from '../model';
import type { Store } from '../store';
import type { Schedule } from './model';
import { dueSlot } from './slots';

export interface TickerOptions {
  store: Store;
  logger: Logger;
  /** The clock slots are read against; tests pass their own. */
  now: () => Date;
  tickMs: number;
  /** Whether a slot missed while no gateway ran fires once when one starts (only the newest one). */
  catchUp: boolean;
  /** Told about the jobs each firing made, after it committed. */
  onJobs: (jobs: readonly Job[]) => void;
}

/**
 * Fires due schedule slots. Every instance ticks; the store lets one firing per slot through (the claim
 * and the jobs commit together), so any number of instances make one set of jobs per slot. The first
 * tick comes soon after start, so a slot missed during downtime fires then (once, when catching up).
 */
export function createTicker(o: TickerOptions) {
  // A slot this recent is on time: a few ticks, so a busy instance that ticks late still fires it.
  const graceMs = Math.max(60_000, o.tickMs * 3);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;
    async function fireDue(now: Date): Promise<number> {
    let fired = 0;
    for (const schedule of await o.store.schedules.list()) {
      if (!schedule.enabled) continue;
      const after = schedule.lastSlot && schedule.lastSlot > schedule.fireAfter ? schedule.lastSlot : schedule.fireAfter;
      const slot = dueSlot(schedule, after, now, { graceMs, catchUp: o.catchUp });
      if (!slot) continue;
      const result = await o.store.schedules.fire(schedule.id, slot, o.store.origin, creatorOf(schedule), firingAudit(schedule, slot));
      if (!result) continue; // another instance fired it
      fired++;
      o.logger.info({ schedule: schedule.id, slot, jobs: result.jobs.length, batchId: result.batchId }, 'schedule fired');
      if (result.jobs.length > 0) o.onJobs(result.jobs);
    }
    return fired;
  }

  return {
    /** Fire what is due at `now` (the clock's by default); resolves to the number of slots this instance fired. */
    tick(now: Date = o.now()): Promise<number> {
      running ??= fireDue(now).finally(() => (running = null));
      return running;
    },
    start(): void {
      const tick = () =>
        void this.tick().catch((err: unknown) => o.logger.warn({ err }, 'schedules: could not fire due slots; the next tick tries again'));
      const first = setTimeout(tick, Math.min(1_000, o.tickMs));
      timer = setInterval(tick, o.tickMs);
      first.unref();
      timer.unref();
      stopFirst = () => clearTimeout(first);
    },
    async stop(): Promise<void> {
      stopFirst();
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => {});
    },
  };
}

let stopFirst = () => {};

export type Ticker = ReturnType<typeof createTicker>;

const creatorOf = (s: Schedule) => ({ subject: `schedule:${s.id}`, userName: `schedule ${s.name}`.slice(0, 255), address: null });

const firingAudit = (s: Schedule, slot: Date): AuditEntry => ({
  action: 'schedule.fire',
  subject: `schedule:${s.id}`,
  roles: [],
  address: null,
  traceId: null,
  target: s.id,
  details: { slot: slot.toISOString() },
});
