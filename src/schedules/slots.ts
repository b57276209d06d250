import { Cron } from 'croner';

/** When a schedule fires: a five-field cron expression read in an IANA time zone. */
export interface Recurrence {
  cron: string;
  timeZone: string;
}

const cronOf = (r: Recurrence) => new Cron(r.cron, { timezone: r.timeZone, paused: true, legacyMode: true });

/** Why a recurrence cannot be used, or null when it can. */
export function recurrenceProblem(r: Recurrence): { field: 'cron' | 'timeZone'; message: string } | null {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: r.timeZone });
  } catch {
    return { field: 'timeZone', message: `'${r.timeZone}' is not an IANA time zone.` };
  }
  // Five fields: minutes to weekdays. Croner also takes seconds, which would let a schedule fire each second.
  if (r.cron.trim().split(/\s+/).length !== 5) return { field: 'cron', message: 'Expected five fields: minute hour day-of-month month day-of-week.' };
  try {
    if (!cronOf(r).nextRun(new Date())) return { field: 'cron', message: 'The expression never fires.' };
  } catch (err) {
    return { field: 'cron', message: `Not a cron expression: ${(err as Error).message}` };
  }
  return null;
}

/** The next `count` slots after `from`. */
export const nextSlots = (r: Recurrence, from: Date, count: number): Date[] => cronOf(r).nextRuns(count, from);

export interface DueOptions {
  /** A slot this recent is on time; an older one was missed (the gateway was down). */
  graceMs: number;
  /** Whether the newest missed slot fires once when found late (older missed ones never do). */
  catchUp: boolean;
}

/**
 * The slot to fire now, if any: the newest slot at or before `now` and after `after` (the last slot
 * fired, or when the schedule was made or enabled). Only that one: after downtime, the slots missed
 * before it are skipped, so a schedule never fires a burst.
 */
export function dueSlot(r: Recurrence, after: Date, now: Date, options: DueOptions): Date | null {
  const [latest] = cronOf(r).previousRuns(1, new Date(now.getTime() + 1));
  if (!latest || latest.getTime() <= after.getTime()) return null;
  if (now.getTime() - latest.getTime() <= options.graceMs) return latest;
  return options.catchUp ? latest : null;
}
