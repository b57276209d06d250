import { badInput, type FieldErrors } from '../errors';
import { describe, hasControlCharacters, isUuid } from '../validate';
import type { HostSelection, ScheduleInput } from './model';
import { recurrenceProblem } from './slots';
import { cronFromRecurrence, type VendorRecurrence } from './vendor';

/** A schedule as a caller sent it: errors keyed by field, all reported at once. */
export function scheduleInput(value: unknown, maxHostIds: number): ScheduleInput {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const errors: FieldErrors = {};
  const at = (field: string, message: string) => void (errors[field] ??= []).push(message);
  const text = (field: string, max: number): string => {
    const s = v[field];
    if (typeof s !== 'string' || s.trim() === '' || s.length > max || hasControlCharacters(s)) {
      at(field, `Expected text of 1 to ${max} characters without control characters.`);
      return '';
    }
    return s.trim();
  };
  const name = text('name', 255);
  let cron = '';
  if (v.recurrence != null && v.cron != null) at('cron', 'Give a cron expression or a vendor recurrence, not both.');
  else if (v.recurrence != null) {
    const mapped = typeof v.recurrence === 'object' ? cronFromRecurrence(v.recurrence as VendorRecurrence) : { problem: 'Expected an object.' };
    if ('problem' in mapped) at('recurrence', mapped.problem);
    else cron = mapped.cron;
  } else cron = text('cron', 255);
  const timeZone = text('timeZone', 64);
  if (cron && timeZone) {
    const problem = recurrenceProblem({ cron, timeZone });
    if (problem) at(problem.field, problem.message);
  }
  if (typeof v.enabled !== 'boolean') at('enabled', 'Expected true or false.');
  const given = (['hostIds', 'namePattern', 'allHosts'] as const).filter((k) => v[k] !== undefined && v[k] !== null && v[k] !== false);
  let hosts: HostSelection = { allHosts: true };
  if (given.length !== 1) {
    at('hosts', 'Give exactly one of hostIds, namePattern or allHosts: true.');
  } else if (given[0] === 'hostIds') {
    const ids = v.hostIds;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > maxHostIds || !ids.every(isUuid)) {
      at('hostIds', `Expected 1 to ${maxHostIds} host ids (UUIDs), not ${describe(ids)}.`);
    } else {
      hosts = { hostIds: [...new Set(ids.map((id) => id.toLowerCase()))] };
    }
  } else if (given[0] === 'namePattern') {
    const pattern = text('namePattern', 255);
    hosts = { namePattern: pattern };
  } else if (v.allHosts !== true) {
    at('allHosts', 'Expected true.');
  }
  if (Object.keys(errors).length > 0) throw badInput(errors);
  return { name, cron, timeZone, hosts, enabled: v.enabled as boolean };
}
