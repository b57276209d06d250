import { randomUUID } from 'node:crypto';
import type { AuditEntry } from '../audit';
import type { Creator, Job } from '../model';
import type { HostSelection, Schedule, ScheduleInput } from '../schedules/model';
import { appendAudit } from './audit';
import type { Queryable, Sql } from './db';
import type { ScheduleIn } from './jobs';

export type ScheduleWrite = { schedule: Schedule; nameTaken?: undefined } | { nameTaken: true; schedule?: undefined };

const COLUMNS = `s.id, s.name, s.cron, s.time_zone, s.host_ids, s.name_pattern, s.all_hosts, s.enabled, s.fire_after,
  s.created_by, s.created_at, s.modified_at, (SELECT max(f.slot) FROM scan_schedule_firings f WHERE f.schedule_id = s.id) AS last_slot`;

/** Recurring schedules, and their firings claimed once per slot across every instance. */
export function createScheduleStore(db: Sql, scheduleIn: ScheduleIn, jobsCommitted: (rows: number) => void) {
  const read = async (q: Queryable, id: string | null): Promise<Schedule[]> =>
    (await q.query<ScheduleRow>(`SELECT ${COLUMNS} FROM scan_schedules s WHERE $1::uuid IS NULL OR s.id = $1 ORDER BY lower(s.name)`, [id])).map(toSchedule);

  /** A write that may hit the unique name: reported, not thrown. */
  const guarded = (fn: (tx: Queryable) => Promise<Schedule | null>): Promise<ScheduleWrite | null> =>
    db.transaction(fn).then(
      (schedule) => (schedule ? { schedule } : null),
      (err: unknown) => {
        if ((err as { code?: string }).code === '23505') return { nameTaken: true as const };
        throw err;
      },
    );

  return {
    list: () => read(db, null),

    async get(id: string): Promise<Schedule | null> {
      return (await read(db, id))[0] ?? null;
    },

    create: (input: ScheduleInput, createdBy: string, audit?: AuditEntry) =>
      guarded(async (tx) => {
        const id = randomUUID();
        const h = selectionColumns(input.hosts);
        await tx.query(
          `INSERT INTO scan_schedules (id, name, cron, time_zone, host_ids, name_pattern, all_hosts, enabled, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [id, input.name, input.cron, input.timeZone, h.hostIds, h.namePattern, h.allHosts, input.enabled, createdBy],
        );
        if (audit) await appendAudit(tx, [{ ...audit, target: id, details: { ...audit.details, ...input } }]);
        return (await read(tx, id))[0]!;
      }) as Promise<ScheduleWrite>,

    /** Replace a schedule's settings; enabling one that was off fires only slots after now. Null when unknown. */
    update: (id: string, input: ScheduleInput, audit?: AuditEntry) =>
      guarded(async (tx) => {
        const h = selectionColumns(input.hosts);
        const rows = await tx.query(
          `UPDATE scan_schedules SET name = $2, cron = $3, time_zone = $4, host_ids = $5, name_pattern = $6, all_hosts = $7,
             fire_after = CASE WHEN $8 AND NOT enabled THEN now() ELSE fire_after END, enabled = $8, modified_at = now()
           WHERE id = $1 RETURNING id`,
          [id, input.name, input.cron, input.timeZone, h.hostIds, h.namePattern, h.allHosts, input.enabled],
        );
        if (rows.length === 0) return null;
        if (audit) await appendAudit(tx, [{ ...audit, details: { ...audit.details, ...input } }]);
        return (await read(tx, id))[0]!;
      }),

    /** Remove a schedule; its jobs stay, still naming it. */
    async remove(id: string, audit?: AuditEntry): Promise<boolean> {
      return db.transaction(async (tx) => {
        const rows = await tx.query('DELETE FROM scan_schedules WHERE id = $1 RETURNING id', [id]);
        if (rows.length > 0 && audit) await appendAudit(tx, [audit]);
        return rows.length > 0;
      });
    },

    /**
     * Fire one slot of an enabled schedule: claim it and schedule its hosts' jobs in one transaction, so
     * the claim exists exactly when its jobs do. An instance that dies mid-way claims nothing; another
     * one firing the same slot waits for the claim's commit and then finds it taken (null).
     */
    async fire(scheduleId: string, slot: Date, firedBy: string, creator: Creator, audit?: AuditEntry): Promise<{ jobs: Job[]; batchId: string | null } | null> {
      const fired = await db.transaction(async (tx) => {
        const [schedule] = await tx.query<ScheduleRow>(`SELECT ${COLUMNS} FROM scan_schedules s WHERE s.id = $1 AND s.enabled FOR SHARE OF s`, [scheduleId]);
        if (!schedule) return null;
        const claimed = await tx.query(
          `INSERT INTO scan_schedule_firings (schedule_id, slot, fired_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING slot`,
          [scheduleId, slot, firedBy],
        );
        if (claimed.length === 0) return null;
        const hostIds = await selectHosts(tx, toSchedule(schedule).hosts);
        if (hostIds.length === 0) return { jobs: [], batchId: null };
        const result = await scheduleIn(tx, hostIds, creator, audit, scheduleId);
        if (!result.jobs) return { jobs: [], batchId: null }; // hosts were removed between the two reads
        await tx.query('UPDATE scan_schedule_firings SET batch_id = $3 WHERE schedule_id = $1 AND slot = $2', [scheduleId, slot, result.batchId]);
        return { jobs: result.jobs, batchId: result.batchId };
      });
      if (fired) jobsCommitted(fired.jobs.length);
      return fired;
    },
  };
}

export type ScheduleStore = ReturnType<typeof createScheduleStore>;

function selectionColumns(hosts: HostSelection) {
  return { hostIds: hosts.hostIds ?? null, namePattern: hosts.namePattern ?? null, allHosts: hosts.allHosts === true };
}

/** The ids of the hosts a selection names now, in a stable order. */
async function selectHosts(tx: Queryable, hosts: HostSelection): Promise<string[]> {
  const rows = hosts.hostIds
    ? await tx.query<{ id: string }>('SELECT h.id FROM unnest($1::uuid[]) WITH ORDINALITY AS v(id, n) JOIN hosts h ON h.id = v.id ORDER BY v.n', [hosts.hostIds])
    : hosts.namePattern
      ? await tx.query<{ id: string }>(`SELECT id FROM hosts WHERE name ILIKE $1 ESCAPE '\\' ORDER BY lower(name)`, [globToLike(hosts.namePattern)])
      : await tx.query<{ id: string }>('SELECT id FROM hosts ORDER BY lower(name)');
  return rows.map((r) => r.id);
}

/** `*` any run of characters, `?` one character; everything else literal. */
export const globToLike = (glob: string): string =>
  glob.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%').replace(/\?/g, '_');

interface ScheduleRow {
  id: string;
  name: string;
  cron: string;
  time_zone: string;
  host_ids: string[] | null;
  name_pattern: string | null;
  all_hosts: boolean;
  enabled: boolean;
  fire_after: Date;
  last_slot: Date | null;
  created_by: string | null;
  created_at: Date;
  modified_at: Date;
}

const toSchedule = (r: ScheduleRow): Schedule => ({
  id: r.id,
  name: r.name,
  cron: r.cron,
  timeZone: r.time_zone,
  hosts: r.host_ids ? { hostIds: r.host_ids } : r.name_pattern !== null ? { namePattern: r.name_pattern } : { allHosts: true },
  enabled: r.enabled,
  fireAfter: r.fire_after,
  lastSlot: r.last_slot,
  createdBy: r.created_by,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
});
