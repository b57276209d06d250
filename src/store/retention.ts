import { ActionStatus } from '../model';
import type { Sql } from './db';

const FINISHED = [ActionStatus.Complete, ActionStatus.Failed, ActionStatus.Cancelled, ActionStatus.CompletedWithErrors, ActionStatus.CompletedNotRun].join(', ');

/** Removing finished jobs past a retention, a small batch per call so scans never wait on it for long. */
export function createRetentionStore(db: Sql) {
  return {
    /**
     * Remove up to `limit` jobs that finished (every scan terminal) and last changed before `before`,
     * oldest first, with their scans and batch memberships; then batches left with no job. Rows another
     * transaction holds are skipped, not waited for. Returns how many jobs went.
     */
    async pruneJobs(before: Date, limit: number): Promise<number> {
      return db.transaction(async (tx) => {
        const jobs = await tx.query(
          `DELETE FROM host_scan_jobs WHERE id IN (
             SELECT id FROM host_scan_jobs WHERE status IN (${FINISHED}) AND modified_at < $1
             ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING id`,
          [before, limit],
        );
        await tx.query(
          `DELETE FROM host_scan_batches WHERE id IN (
             SELECT b.id FROM host_scan_batches b WHERE b.created_at < $1
               AND NOT EXISTS (SELECT 1 FROM host_scan_batch_jobs m WHERE m.batch_id = b.id)
             LIMIT $2 FOR UPDATE SKIP LOCKED)`,
          [before, limit],
        );
        return jobs.length;
      });
    },
  };
}

export type RetentionStore = ReturnType<typeof createRetentionStore>;
