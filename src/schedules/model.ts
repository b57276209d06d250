import type { Recurrence } from './slots';

/** Which hosts a schedule scans: these ids, names matching a glob (`*`, `?`), or every host. */
export type HostSelection =
  | { hostIds: string[]; namePattern?: undefined; allHosts?: undefined }
  | { namePattern: string; hostIds?: undefined; allHosts?: undefined }
  | { allHosts: true; hostIds?: undefined; namePattern?: undefined };

/** A recurring scan: hosts, when, and whether it is on. */
export interface ScheduleInput extends Recurrence {
  name: string;
  hosts: HostSelection;
  enabled: boolean;
}

export interface Schedule extends ScheduleInput {
  id: string;
  /** Slots at or before this never fire: when the schedule was made, or last enabled. */
  fireAfter: Date;
  /** The newest slot that fired. */
  lastSlot: Date | null;
  createdBy: string | null;
  createdAt: Date;
  modifiedAt: Date;
}
