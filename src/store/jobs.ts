import { randomUUID } from 'node:crypto';
import { ActionStatus, jobState, type Creator, type Job } from '../model';
import { encodeChanges } from '../change-message';
import { JOB_CHANNEL } from './changes';
import type { AuditEntry } from '../audit';
import { appendAudit } from './audit';
import { recordBatch } from './batches';
import { ACTIVE_SCAN, replanBeforeBulkInsert, type Queryable, type Sql } from './db';
import { JOB_COLUMNS, toJobs, type JobScanRow } from './rows';
import { firstTurn } from './turns';
import { createGrowthAnalyzer } from './analyze';
import { groupCommit } from './group-commit';

export type ScheduleResult = { jobs: Job[]; batchId: string; missing?: undefined } | { jobs?: undefined; batchId?: undefined; missing: string[] };

export interface JobListQuery {
  limit: number;
  offset?: number;
  /** Only jobs older than this `seq` (cursor paging). */
  beforeSeq?: string | null;
  status?: ActionStatus | null;
}

/**
 * A place in the order of job changes: their time, then their id. Times are the database's, in whole
 * microseconds since 1970 (a Date's milliseconds would round a change's time and read it again forever).
 */
export interface ChangePosition {
  readonly at: number;
  readonly id: string;
}

// Exact as a JavaScript number until the year 2255.
const MICROS = (expr: string) => `(extract(epoch FROM ${expr}) * 1000000)::bigint`;

export interface JobStoreOptions {
  /** Identifies this process in change announcements, so it can skip its own. */
  origin: string;
  /** Announce committed job changes with NOTIFY (PostgreSQL; the embedded store has no other reader). */
  announce: boolean;
}


// Schedule calls per shared transaction, and such transactions under way at once (see groupCommit).
const SCHEDULES_PER_GROUP = 64;
const SCHEDULE_GROUPS = 2;
// A call this large runs alone: in a group it would hold the small calls behind it up.
const ALONE_FROM_HOSTS = 200;

// Store each job's status and bump its revision; with its announcements where there are readers to tell.
// The `announced` column is read by nobody: a CTE that no part of the statement refers to never runs.
const BUMP = `UPDATE host_scan_jobs j SET status = v.status, revision = j.revision + 1, modified_at = now()
  FROM unnest($1::uuid[], $2::smallint[]) AS v(id, status)
  WHERE j.id = v.id
  RETURNING j.id, j.revision, j.modified_at`;
const BUMP_AND_ANNOUNCE = `WITH bumped AS (${BUMP}),
  announced AS (SELECT pg_notify($3, p) FROM unnest($4::text[]) AS p)
  SELECT id, revision, modified_at, (SELECT count(*) FROM announced) AS announced FROM bumped`;

/** Jobs and their host scans: scheduling, reading and cancelling. */
export function createJobStore(db: Sql, nodeId: string, options: JobStoreOptions) {
  /**
   * Read the jobs as they are now, store each one's status (derived from its scans) and bump its
   * revision; on PostgreSQL, also announce the change in the same transaction: NOTIFY is delivered at
   * commit, so no committed change goes unannounced. Callers hold the changed scan rows locked (lock order
   * everywhere: scan rows, then job rows, each in id order), so the status read here cannot be overtaken
   * by a concurrent change.
   */
  const changed = async (q: Queryable, jobIds: readonly string[]): Promise<Job[]> => {
    const ids = [...new Set(jobIds)].sort();
    if (ids.length === 0) return [];
    // A job of several scans (POST /api/v1/HostScanJob) can change in two transactions at once: the job
    // rows are locked before its scans are read, so the later one reads what the earlier one committed.
    // The read is its own statement, so it sees what was committed while the lock waited; sent together with
    // the lock, both share one round trip.
    const [, jobs] = await Promise.all([
      q.query('SELECT id FROM host_scan_jobs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [ids]),
      readByIds(q, ids),
    ]);
    // Locked, each job's revision after the bump is the one read plus one, so its announcement rides in the
    // bump's own statement (one round trip fewer in every transition).
    const payloads = messagesOf(jobs, 1);
    const bumped = await q.query<{ id: string; revision: number; modified_at: Date }>(
      payloads.length > 0 ? BUMP_AND_ANNOUNCE : BUMP,
      [jobs.map((j) => j.id), jobs.map((j) => jobState(j.scans).status), ...(payloads.length > 0 ? [JOB_CHANNEL, payloads] : [])],
    );
    const byId = new Map(jobs.map((j) => [j.id, j]));
    for (const row of bumped) Object.assign(byId.get(row.id)!, { revision: row.revision, modifiedAt: row.modified_at });
    return jobs;
  };

  /** The announcement messages for `jobs` at their revision plus `ahead`; none where nobody listens. */
  const messagesOf = (jobs: readonly Job[], ahead: number): string[] =>
    options.announce ? encodeChanges(options.origin, jobs.map((j) => ({ id: j.id, revision: j.revision + ahead }))) : [];

  const announce = async (q: Queryable, jobs: readonly Job[]): Promise<void> => {
    const payloads = messagesOf(jobs, 0);
    if (payloads.length > 0) await q.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [JOB_CHANNEL, payloads]);
  };

  // The embedded store prepares its statements, so they run on generic plans that assume a short array:
  // this read starts from its array (unnest) and looks rows up by index, which stays fast for 500 ids where
  // a join filtered by `= ANY($1)` on both sides became a 500 × 500 nested loop (117 ms).
  const readByIds = async (q: Queryable, ids: readonly string[]): Promise<Job[]> => {
    if (ids.length === 0) return [];
    const rows = await q.query<JobScanRow>(
      `SELECT ${JOB_COLUMNS} FROM unnest($1::uuid[]) AS wanted(id)
       JOIN host_scan_jobs j ON j.id = wanted.id JOIN host_scans s ON s.job_id = j.id
       ORDER BY j.seq DESC, s.position`,
      [[...new Set(ids)]],
    );
    const jobs = new Map(toJobs(rows, nodeId).map((j) => [j.id, j]));
    return ids.map((id) => jobs.get(id)).filter((j): j is Job => j !== undefined);
  };

  /** Ids of jobs, newest first; the caller reads them (through its cache, where it has one). */
  const listIds = async (query: JobListQuery): Promise<string[]> => {
    const rows = await db.query<{ id: string }>(
      `SELECT id FROM host_scan_jobs
       WHERE ($1::smallint IS NULL OR status = $1) AND ($2::bigint IS NULL OR seq < $2::bigint)
       ORDER BY seq DESC LIMIT $3 OFFSET $4`,
      [query.status ?? null, query.beforeSeq ?? null, query.limit, query.offset ?? 0],
    );
    return rows.map((r) => r.id);
  };

  /**
   * One job per host id (ids distinct, in request order) in one transaction. A host with a queued or
   * running scan gets that job back. Unknown hosts: nothing is written and `missing` lists them. The
   * jobs returned form a new batch (new and existing ones alike). The audit entry is written in the
   * same transaction, its target the jobs and its details which were new and the batch.
   */
  const scheduleIn = async (tx: Queryable, hostIds: readonly string[], creator: Creator, audit?: AuditEntry, scheduleId: string | null = null): Promise<ScheduleResult> => {
    // One read for both questions: which hosts exist (FOR SHARE keeps them from being removed before
    // our scans reference them), and which already have a queued or running job.
    const found = await tx.query<{ id: string; job_id: string | null }>(
      `SELECT h.id, s.job_id FROM hosts h
       LEFT JOIN host_scans s ON s.host_id = h.id AND s.${ACTIVE_SCAN}
       WHERE h.id = ANY($1::uuid[]) FOR SHARE OF h`,
      [hostIds],
    );
    const known = new Set(found.map((r) => r.id));
    const missing = hostIds.filter((id) => !known.has(id));
    if (missing.length > 0) return { missing };

    const jobOf = new Map(found.filter((r) => r.job_id).map((r) => [r.id, r.job_id!]));
    const fresh = hostIds.filter((id) => !jobOf.has(id));
    let created: Job[] = [];
    if (fresh.length > 0) {
      const jobIds = fresh.map(() => randomUUID());
      await replanBeforeBulkInsert(tx, fresh.length);
      // Jobs and their scans in one statement (the foreign key is checked at its end, when both exist),
      // which also returns them as a read would: no second round trip for what was just written.
      const rows = await tx.query<JobScanRow>(
        `WITH j AS (
           INSERT INTO host_scan_jobs (id, created_by, created_by_user_name, created_from_address, schedule_id)
           SELECT id, $4, $5, $6, $7::uuid FROM unnest($2::uuid[]) AS id
           RETURNING *),
         s AS (
           INSERT INTO host_scans (id, job_id, host_id, position, name, dns_host_name, ip_address, os, version,
             ssh_port, win_rm_port, lane, turn)
           SELECT v.id, v.job_id, h.id, 0, h.name, h.dns_host_name, h.ip_address, h.os, h.version,
             h.ssh_port, h.win_rm_port, $4, ${firstTurn('$4')} + v.n - 1
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY AS v(id, job_id, host_id, n)
           JOIN hosts h ON h.id = v.host_id
           ON CONFLICT (host_id) WHERE ${ACTIVE_SCAN} DO NOTHING
           RETURNING *)
         SELECT ${JOB_COLUMNS} FROM j JOIN s ON s.job_id = j.id`,
        [fresh.map(() => randomUUID()), jobIds, fresh, creator.subject, creator.userName, creator.address, scheduleId],
      );
      created = toJobs(rows, nodeId);
      for (const r of rows) jobOf.set(r.host_id!, r.job_id);
      if (created.length < fresh.length) {
        // A concurrent call scheduled some of these hosts first: drop our empty jobs, use theirs.
        const used = new Set(created.map((j) => j.id));
        await tx.query('DELETE FROM host_scan_jobs WHERE id = ANY($1::uuid[])', [jobIds.filter((id) => !used.has(id))]);
        for (const [hostId, jobId] of await activeJobs(tx, fresh.filter((id) => !jobOf.has(id)))) {
          jobOf.set(hostId, jobId);
        }
      }
      await announce(tx, created);
    }
    const byId = new Map(created.map((j) => [j.id, j]));
    const jobIds = [...new Set(hostIds.map((id) => jobOf.get(id)!))];
    for (const job of await readByIds(tx, jobIds.filter((id) => !byId.has(id)))) byId.set(job.id, job);
    const batchId = randomUUID();
    await recordBatch(tx, batchId, creator.subject, jobIds);
    if (audit) {
      await appendAudit(tx, [{ ...audit, target: jobIds.join(',').slice(0, 1000), details: { ...audit.details, hosts: hostIds.length, newJobs: created.length, batchId } }]);
    }
    return { jobs: jobIds.map((id) => byId.get(id)).filter((j): j is Job => j !== undefined), batchId };
  };

  const analyzer = createGrowthAnalyzer(db);
  const scheduleGrouped = groupCommit(db, (tx, c: { hostIds: readonly string[]; creator: Creator; audit?: AuditEntry }) => scheduleIn(tx, c.hostIds, c.creator, c.audit), {
    maxGroup: SCHEDULES_PER_GROUP,
    parallel: SCHEDULE_GROUPS,
    alone: (c) => c.hostIds.length >= ALONE_FROM_HOSTS,
  });

  return {
    changed,
    scheduleIn,

    /** One job per host id (see scheduleIn); concurrent calls share a transaction (see groupCommit). */
    async schedule(hostIds: readonly string[], creator: Creator, audit?: AuditEntry): Promise<ScheduleResult> {
      const result = await scheduleGrouped({ hostIds, creator, audit });
      analyzer.grew(result.jobs?.length ?? 0);
      return result;
    },
    /** Tell the store that `rows` jobs were committed by a caller's own transaction (see scheduleIn). */
    grew: analyzer.grew,

    getJobs: (ids: readonly string[]) => readByIds(db, ids),

    listIds,

    /**
     * Jobs changed after `position`, oldest first, at most `limit`; with the database's time at the read,
     * where the next sweep may start. For catching up on missed announcements.
     */
    async changesAfter(position: ChangePosition, limit: number): Promise<{ changes: (ChangePosition & { revision: number })[]; now: number }> {
      const rows = await db.query<{ now: string; id: string | null; revision: number | null; at: string | null }>(
        `SELECT ${MICROS('n.now')} AS now, c.id, c.revision, ${MICROS('c.modified_at')} AS at FROM (SELECT now() AS now) n
         LEFT JOIN LATERAL (
           SELECT id, revision, modified_at FROM host_scan_jobs
           WHERE (modified_at, id) > ('epoch'::timestamptz + $1::bigint * interval '1 microsecond', $2::uuid)
           ORDER BY modified_at, id LIMIT $3
         ) c ON true`,
        [position.at, position.id, limit],
      );
      const changes = rows.filter((r) => r.id !== null).map((r) => ({ id: r.id!, revision: r.revision!, at: Number(r.at) }));
      return { changes, now: Number(rows[0]!.now) };
    },

    /** The database's clock now, in microseconds since 1970 (see ChangePosition). */
    async now(): Promise<number> {
      const [row] = await db.query<{ now: string }>(`SELECT ${MICROS('now()')} AS now`);
      return Number(row!.now);
    },

    /** How many jobs have each status. */
    async countByStatus(): Promise<Map<ActionStatus, number>> {
      const rows = await db.query<{ status: number; n: number }>('SELECT status, count(*)::int AS n FROM host_scan_jobs GROUP BY status');
      return new Map(rows.map((r) => [r.status as ActionStatus, r.n]));
    },

    /** The id of the host's latest job, if it has one. */
    async latestIdForHost(hostId: string): Promise<string | null> {
      const rows = await db.query<{ job_id: string }>(
        'SELECT job_id FROM host_scans WHERE host_id = $1 ORDER BY created_at DESC LIMIT 1',
        [hostId],
      );
      return rows[0]?.job_id ?? null;
    },

    /** The job a host scan belongs to, if the scan exists. */
    async jobIdOfScan(scanId: string): Promise<string | null> {
      const rows = await db.query<{ job_id: string }>('SELECT job_id FROM host_scans WHERE id = $1', [scanId]);
      return rows[0]?.job_id ?? null;
    },

    /**
     * Queued and paused scans become Cancelled at once; running ones are flagged for the runner to abort.
     * With `scan`, only that host scan of the job, recording whether the host was reached when given.
     * Returns null for an unknown job, else the job and the ids of its scans still running.
     */
    async cancel(
      jobId: string,
      reason: string,
      audit?: AuditEntry,
      scan?: { id: string; hostConnected: boolean | null },
    ): Promise<{ job: Job; running: string[] } | null> {
      return db.transaction(async (tx) => {
        // Lock order everywhere: scan rows, then the job row (changed).
        await tx.query('SELECT id FROM host_scans WHERE job_id = $1 ORDER BY id FOR UPDATE', [jobId]);
        const exists = await tx.query('SELECT id FROM host_scan_jobs WHERE id = $1', [jobId]);
        if (exists.length === 0) return null;
        const cancelled = await tx.query(
          `UPDATE host_scans SET status = ${ActionStatus.Cancelled}, status_description = $2, finished_at = now(),
             modified_at = now(), lease_owner = NULL, lease_expires_at = NULL, host_connected = coalesce($4::boolean, host_connected)
           WHERE job_id = $1 AND ($3::uuid IS NULL OR id = $3) AND status IN (${ActionStatus.Queued}, ${ActionStatus.Paused}) RETURNING id`,
          [jobId, reason, scan?.id ?? null, scan?.hostConnected ?? null],
        );
        const running = await tx.query<{ id: string }>(
          `UPDATE host_scans SET cancel_requested = true, modified_at = now()
           WHERE job_id = $1 AND ($2::uuid IS NULL OR id = $2) AND status = ${ActionStatus.Running} RETURNING id`,
          [jobId, scan?.id ?? null],
        );
        const [job] = cancelled.length > 0 ? await changed(tx, [jobId]) : await readByIds(tx, [jobId]);
        if (audit) await appendAudit(tx, [{ ...audit, details: { ...audit.details, cancelledQueued: cancelled.length, abortingRunning: running.length } }]);
        return { job: job!, running: running.map((r) => r.id) };
      });
    },
  };
}

/** What the store offers callers; `changed` is the queue's, inside its transactions (see createStores). */
export type JobStore = Omit<ReturnType<typeof createJobStore>, 'changed' | 'scheduleIn' | 'grew'>;
/** Schedules jobs inside the caller's transaction (a schedule's firing). */
export type ScheduleIn = ReturnType<typeof createJobStore>['scheduleIn'];
/** Reads the jobs a transition changed and bumps their status and revision, inside the caller's transaction. */
export type JobChanges = ReturnType<typeof createJobStore>['changed'];

async function activeJobs(q: Queryable, hostIds: readonly string[]): Promise<Map<string, string>> {
  const rows = await q.query<{ host_id: string; job_id: string }>(
    `SELECT host_id, job_id FROM host_scans WHERE host_id = ANY($1::uuid[]) AND ${ACTIVE_SCAN}`,
    [hostIds],
  );
  return new Map(rows.map((r) => [r.host_id, r.job_id]));
}
