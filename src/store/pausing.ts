import type { AuditEntry } from '../audit';
import { ActionStatus, type Job } from '../model';
import { appendAudit } from './audit';
import type { Queryable, Sql } from './db';
import type { JobChanges } from './jobs';
import { firstTurn } from './turns';

/** What to pause or resume: one job, every job of a batch, or one host scan. */
export type PauseTarget =
  | { jobId: string; batchId?: undefined; scanId?: undefined }
  | { batchId: string; jobId?: undefined; scanId?: undefined }
  | { scanId: string; jobId?: undefined; batchId?: undefined };

/** What a pause or resume changed: the jobs whose state changed, and how many scans it moved or flagged. */
export interface PauseResult {
  changed: Job[];
  /** Scans that moved (Queued → Paused, or Paused → Queued). */
  moved: number;
  /** Running scans flagged (pause) or unflagged (resume); they run on either way. */
  running: number;
}

/**
 * Pausing and resuming host scans. A queued scan waits Paused (7) until resumed, then is queued again;
 * a running scan is left to finish and record its result, only flagged so that, should its lease be lost
 * or handed back, it waits Paused rather than queued. Finished scans are left alone.
 */
export function createPauseStore(db: Sql, changed: JobChanges) {
  const jobIdsOf = async (tx: Queryable, target: PauseTarget): Promise<string[] | null> => {
    const rows = target.jobId
      ? await tx.query<{ id: string }>('SELECT id FROM host_scan_jobs WHERE id = $1', [target.jobId])
      : target.batchId
        ? await tx.query<{ id: string }>('SELECT job_id AS id FROM host_scan_batch_jobs WHERE batch_id = $1', [target.batchId])
        : await tx.query<{ id: string }>('SELECT job_id AS id FROM host_scans WHERE id = $1', [target.scanId]);
    return rows.length === 0 ? null : rows.map((r) => r.id);
  };

  const transition = (pause: boolean) => async (target: PauseTarget, description: string, audit?: AuditEntry): Promise<PauseResult | null> =>
    db.transaction(async (tx) => {
      const jobIds = await jobIdsOf(tx, target);
      if (!jobIds) return null;
      // Lock order everywhere: scan rows, then job rows (changed).
      await tx.query('SELECT id FROM host_scans WHERE job_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [jobIds]);
      const [from, to] = pause ? [ActionStatus.Queued, ActionStatus.Paused] : [ActionStatus.Paused, ActionStatus.Queued];
      // Resumed scans queue again as if scheduled now, each behind its own caller's queued ones: kept
      // turns would put a long-paused batch ahead of every scan queued meanwhile (turns.ts).
      const moved = await tx.query<{ job_id: string }>(
        `WITH picked AS (
           SELECT id, lane, row_number() OVER (PARTITION BY lane ORDER BY turn, run_after) AS n FROM host_scans
           WHERE job_id = ANY($1::uuid[]) AND ($3::uuid IS NULL OR id = $3) AND status = ${from}),
         lanes AS (SELECT l.lane, ${pause ? 'NULL::bigint' : firstTurn('l.lane')} AS first FROM (SELECT DISTINCT lane FROM picked) l)
         UPDATE host_scans s SET status = ${to}, status_description = $2, pause_requested = false, run_after = now(), modified_at = now(),
           turn = coalesce(lanes.first + p.n - 1, s.turn)
         FROM picked p JOIN lanes ON lanes.lane = p.lane WHERE s.id = p.id RETURNING s.job_id`,
        [jobIds, description, target.scanId ?? null],
      );
      const running = await tx.query<{ id: string }>(
        `UPDATE host_scans SET pause_requested = $2
         WHERE job_id = ANY($1::uuid[]) AND ($3::uuid IS NULL OR id = $3) AND status = ${ActionStatus.Running}
           AND pause_requested <> $2 RETURNING id`,
        [jobIds, pause, target.scanId ?? null],
      );
      const jobs = await changed(tx, moved.map((r) => r.job_id));
      if (audit) await appendAudit(tx, [{ ...audit, details: { ...audit.details, jobs: jobIds.length, moved: moved.length, running: running.length } }]);
      return { changed: jobs, moved: moved.length, running: running.length };
    });

  return {
    /** Queued scans wait Paused; running ones finish. Null for an unknown job or batch. */
    pause: transition(true),
    /** Paused scans are queued again, due now. Null for an unknown job or batch. */
    resume: transition(false),
  };
}

export type PauseStore = ReturnType<typeof createPauseStore>;
