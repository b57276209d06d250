import { auditEntry, type Caller } from './audit';
import { requireRole, type Principal, type Role } from './auth';
import { badInput, notFound } from './errors';
import type { Schedule } from './schedules/model';
import { nextSlots } from './schedules/slots';
import { scheduleInput } from './schedules/validate';
import type { Store } from './store';
import type { ScheduleWrite } from './store/schedules';
import { uuidParam } from './validate';

const SCAN_ROLES: readonly Role[] = ['Admin', 'App'];
const ADMIN: readonly Role[] = ['Admin'];

export interface ScheduleView extends Schedule {
  nextRuns: Date[];
}

/**
 * Recurring scan schedules: Admin creates, edits (pausing is `enabled: false`) and deletes; any scan
 * role lists them with their next runs. Firing is the ticker's (schedules/ticker.ts).
 */
export class ScheduleService {
  constructor(private readonly o: { store: Store; maxHostIds: number; now?: () => Date }) {}

  async list(principal: Principal, input: { nextRuns?: unknown } = {}): Promise<ScheduleView[]> {
    requireRole(principal, SCAN_ROLES);
    const count = input.nextRuns ?? 3;
    if (!Number.isInteger(count) || (count as number) < 0 || (count as number) > 20) throw badInput({ nextRuns: ['Expected a whole number from 0 to 20.'] });
    return (await this.o.store.schedules.list()).map((s) => this.view(s, count as number));
  }

  async create(caller: Caller, input: { schedule: unknown }): Promise<ScheduleView> {
    requireRole(caller, ADMIN);
    const schedule = scheduleInput(input.schedule, this.o.maxHostIds);
    return this.written(await this.o.store.schedules.create(schedule, caller.subject, auditEntry(caller, 'schedule.create', null)));
  }

  /** Replace a schedule's settings; `enabled: false` pauses it, `true` resumes it from now on (missed slots never fire). */
  async update(caller: Caller, input: { id: unknown; schedule: unknown }): Promise<ScheduleView> {
    requireRole(caller, ADMIN);
    const id = uuidParam(input.id, 'id');
    const schedule = scheduleInput(input.schedule, this.o.maxHostIds);
    const result = await this.o.store.schedules.update(id, schedule, auditEntry(caller, 'schedule.update', id));
    if (!result) throw notFound(`No schedule has the id ${id}.`);
    return this.written(result);
  }

  /** Its jobs stay, still naming it. */
  async remove(caller: Caller, input: { id: unknown }): Promise<boolean> {
    requireRole(caller, ADMIN);
    const id = uuidParam(input.id, 'id');
    if (!(await this.o.store.schedules.remove(id, auditEntry(caller, 'schedule.remove', id)))) throw notFound(`No schedule has the id ${id}.`);
    return true;
  }

  private written(result: ScheduleWrite): ScheduleView {
    if (result.nameTaken) throw badInput({ name: ['Another schedule has this name.'] });
    return this.view(result.schedule, 3);
  }

  private view(s: Schedule, count: number): ScheduleView {
    return { ...s, nextRuns: s.enabled && count > 0 ? nextSlots(s, this.o.now?.() ?? new Date(), count) : [] };
  }
}
