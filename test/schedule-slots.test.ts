import { describe, expect, it } from 'vitest';
import { dueSlot, nextSlots, recurrenceProblem } from '../src/schedules/slots';
import { cronFromRecurrence } from '../src/schedules/vendor';

// Slots against a clock the test holds: no waiting.

const at = (iso: string) => new Date(iso);
const ON_TIME = { graceMs: 60_000, catchUp: true };

describe('schedule slots', () => {
  it('every minute: each minute once, never before it, never twice', () => {
    const r = { cron: '* * * * *', timeZone: 'UTC' };
    expect(dueSlot(r, at('2026-05-01T12:00:00Z'), at('2026-05-01T12:00:59.999Z'), ON_TIME)).toBeNull();
    expect(dueSlot(r, at('2026-05-01T12:00:00Z'), at('2026-05-01T12:01:00Z'), ON_TIME)).toEqual(at('2026-05-01T12:01:00Z'));
    expect(dueSlot(r, at('2026-05-01T12:01:00Z'), at('2026-05-01T12:01:30Z'), ON_TIME)).toBeNull();
    expect(nextSlots(r, at('2026-05-01T12:00:00Z'), 2)).toEqual([at('2026-05-01T12:01:00Z'), at('2026-05-01T12:02:00Z')]);
  });

  it('after downtime: only the newest missed slot, once, and none when catching up is off', () => {
    const hourly = { cron: '0 * * * *', timeZone: 'UTC' };
    const down = { after: at('2026-05-01T08:00:00Z'), now: at('2026-05-01T11:30:00Z') };
    expect(dueSlot(hourly, down.after, down.now, ON_TIME)).toEqual(at('2026-05-01T11:00:00Z'));
    expect(dueSlot(hourly, at('2026-05-01T11:00:00Z'), down.now, ON_TIME)).toBeNull();
    expect(dueSlot(hourly, down.after, down.now, { ...ON_TIME, catchUp: false })).toBeNull();
    // A slot within the grace is on time either way.
    expect(dueSlot(hourly, down.after, at('2026-05-01T11:00:30Z'), { ...ON_TIME, catchUp: false })).toEqual(at('2026-05-01T11:00:00Z'));
  });

  it('spring forward: a 02:30 that does not exist that day fires once, at the first valid time after', () => {
    const r = { cron: '30 2 * * *', timeZone: 'Europe/Berlin' };
    // 2026-03-29: clocks go from 02:00 CET to 03:00 CEST.
    const [slot, next] = nextSlots(r, at('2026-03-28T12:00:00Z'), 2);
    expect(slot).toEqual(at('2026-03-29T01:00:00Z')); // 03:00 CEST
    expect(next).toEqual(at('2026-03-30T00:30:00Z')); // 02:30 CEST
    expect(dueSlot(r, at('2026-03-28T12:00:00Z'), at('2026-03-29T01:00:10Z'), ON_TIME)).toEqual(slot);
    expect(dueSlot(r, slot!, at('2026-03-29T23:00:00Z'), ON_TIME)).toBeNull();
  });

  it('fall back: a 02:30 that happens twice that day fires once', () => {
    const r = { cron: '30 2 * * *', timeZone: 'Europe/Berlin' };
    // 2026-10-25: clocks go from 03:00 CEST back to 02:00 CET, so 02:30 is 00:30Z and again 01:30Z.
    const first = dueSlot(r, at('2026-10-24T12:00:00Z'), at('2026-10-25T00:30:10Z'), ON_TIME);
    expect(first).toEqual(at('2026-10-25T00:30:00Z'));
    expect(dueSlot(r, first!, at('2026-10-25T01:30:10Z'), ON_TIME)).toBeNull();
    expect(nextSlots(r, first!, 1)).toEqual([at('2026-10-26T01:30:00Z')]); // 02:30 CET the next day
  });

  it('Feb 29: only in leap years', () => {
    const r = { cron: '0 12 29 2 *', timeZone: 'UTC' };
    expect(nextSlots(r, at('2026-01-01T00:00:00Z'), 2)).toEqual([at('2028-02-29T12:00:00Z'), at('2032-02-29T12:00:00Z')]);
    expect(dueSlot(r, at('2026-01-01T00:00:00Z'), at('2027-03-01T12:00:00Z'), ON_TIME)).toBeNull();
    expect(dueSlot(r, at('2026-01-01T00:00:00Z'), at('2028-02-29T12:00:05Z'), ON_TIME)).toEqual(at('2028-02-29T12:00:00Z'));
  });

  it('names what is wrong with a recurrence', () => {
    expect(recurrenceProblem({ cron: '0 3 * * *', timeZone: 'America/New_York' })).toBeNull();
    expect(recurrenceProblem({ cron: '0 3 * * *', timeZone: 'Mars/Olympus' })).toMatchObject({ field: 'timeZone' });
    expect(recurrenceProblem({ cron: '* * * * * *', timeZone: 'UTC' })).toMatchObject({ field: 'cron' });
    expect(recurrenceProblem({ cron: '61 * * * *', timeZone: 'UTC' })).toMatchObject({ field: 'cron' });
    expect(recurrenceProblem({ cron: '0 0 31 2 *', timeZone: 'UTC' })).toMatchObject({ field: 'cron', message: 'The expression never fires.' });
  });
});

describe("the vendor's RecurrenceType", () => {
  it('maps Minutes, Daily, Weekly and Monthly to cron, and refuses what cron cannot say', () => {
    expect(cronFromRecurrence({ recurrenceType: 1, recurrenceInterval: 15 })).toEqual({ cron: '*/15 * * * *' });
    expect(cronFromRecurrence({ recurrenceType: 2, hour: 3, minute: 30 })).toEqual({ cron: '30 3 * * *' });
    expect(cronFromRecurrence({ recurrenceType: 3, hour: 22, minute: 0, dayOfWeek: 0 })).toEqual({ cron: '0 22 * * 0' });
    expect(cronFromRecurrence({ recurrenceType: 4, hour: 1, minute: 5, dayOfMonth: 29 })).toEqual({ cron: '5 1 29 * *' });
    expect(cronFromRecurrence({ recurrenceType: 1, recurrenceInterval: 7 })).toHaveProperty('problem');
    expect(cronFromRecurrence({ recurrenceType: 3, hour: 1 })).toEqual({ problem: 'dayOfWeek must be a whole number from 0 to 6.' });
    expect(cronFromRecurrence({ recurrenceType: 2, hour: 24 })).toEqual({ problem: 'hour must be a whole number from 0 to 23.' });
    expect(cronFromRecurrence({ recurrenceType: 0 })).toHaveProperty('problem');
  });
});
