/**
 * The vendor's ActionJobSchedule recurrence (`SbPAM.Constants.ActionConstants+RecurrenceType`: None 0,
 * Minutes 1, Daily 2, Weekly 3, Monthly 4) as a cron expression, where one says the same thing.
 */
export interface VendorRecurrence {
  recurrenceType: number;
  hour?: number | null;
  minute?: number | null;
  /** System.DayOfWeek: Sunday 0 … Saturday 6, as cron numbers them. */
  dayOfWeek?: number | null;
  dayOfMonth?: number | null;
  /** For Minutes: every this many minutes (a divisor of 60, so every hour starts the same). */
  recurrenceInterval?: number | null;
}

/** The cron expression, or why there is none. */
export function cronFromRecurrence(r: VendorRecurrence): { cron: string } | { problem: string } {
  const int = (v: number | null | undefined, min: number, max: number, name: string): number | string =>
    Number.isInteger(v) && v! >= min && v! <= max ? v! : `${name} must be a whole number from ${min} to ${max}.`;
  const minute = int(r.minute ?? 0, 0, 59, 'minute');
  const hour = int(r.hour ?? 0, 0, 23, 'hour');
  const bad = (...values: (number | string)[]) => values.find((v): v is string => typeof v === 'string');
  switch (r.recurrenceType) {
    case 1: {
      const every = r.recurrenceInterval ?? 1;
      if (!Number.isInteger(every) || every < 1 || 60 % every !== 0) return { problem: 'recurrenceInterval must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60).' };
      return { cron: every === 60 ? '0 * * * *' : `*/${every} * * * *` };
    }
    case 2: {
      const problem = bad(minute, hour);
      return problem ? { problem } : { cron: `${minute} ${hour} * * *` };
    }
    case 3: {
      const day = int(r.dayOfWeek, 0, 6, 'dayOfWeek');
      const problem = bad(minute, hour, day);
      return problem ? { problem } : { cron: `${minute} ${hour} * * ${day}` };
    }
    case 4: {
      const day = int(r.dayOfMonth, 1, 31, 'dayOfMonth');
      const problem = bad(minute, hour, day);
      return problem ? { problem } : { cron: `${minute} ${hour} ${day} * *` };
    }
    default:
      return { problem: 'recurrenceType must be Minutes 1, Daily 2, Weekly 3 or Monthly 4 (None 0 does not recur).' };
  }
}
