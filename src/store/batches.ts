import { ActionStatus, type BatchCounts } from '../model';
import type { Queryable, Sql } from './db';

/** Record a schedule call's batch and its jobs, inside the call's transaction. */
export async function recordBatch(tx: Queryable, batchId: string, createdBy: string, jobIds: readonly string[]): Promise<void> {
  await tx.query('INSERT INTO host_scan_batches (id, created_by) VALUES ($1, $2)', [batchId, createdBy]);
  await tx.query(
    `INSERT INTO host_scan_batch_jobs (batch_id, job_id) SELECT $1, id FROM unnest($2::uuid[]) AS id ON CONFLICT DO NOTHING`,
    [batchId, jobIds],
  );
}

const COMPLETE = [ActionStatus.Complete, ActionStatus.CompletedWithErrors, ActionStatus.CompletedNotRun].join(', ');

/** Batches: what each schedule call returned, counted by the state of its scans. */
export function createBatchStore(db: Sql) {
  return {
    /** The batch's scans counted by state, with seconds since it was made (database clock); null when unknown. */
    async counts(batchId: string): Promise<BatchCounts | null> {
      const [row] = await db.query<BatchCounts>(
        `SELECT count(s.id)::int AS total,
           count(*) FILTER (WHERE s.status = ${ActionStatus.Queued})::int AS queued,
           count(*) FILTER (WHERE s.status = ${ActionStatus.Running})::int AS running,
           count(*) FILTER (WHERE s.status = ${ActionStatus.Paused})::int AS paused,
           count(*) FILTER (WHERE s.status IN (${COMPLETE}))::int AS complete,
           count(*) FILTER (WHERE s.status = ${ActionStatus.Failed})::int AS failed,
           count(*) FILTER (WHERE s.status = ${ActionStatus.Cancelled})::int AS cancelled,
           bt.created_at AS "createdAt",
           extract(epoch FROM now() - bt.created_at)::float8 AS "elapsedSeconds"
         FROM host_scan_batches bt
         LEFT JOIN host_scan_batch_jobs b ON b.batch_id = bt.id
         LEFT JOIN host_scans s ON s.job_id = b.job_id
         WHERE bt.id = $1 GROUP BY bt.id, bt.created_at`,
        [batchId],
      );
      return row ?? null;
    },

    /** The ids of the batch's jobs (empty for an unknown batch). */
    async jobIds(batchId: string): Promise<string[]> {
      const rows = await db.query<{ job_id: string }>('SELECT job_id FROM host_scan_batch_jobs WHERE batch_id = $1', [batchId]);
      return rows.map((r) => r.job_id);
    },
  };
}

export type BatchStore = ReturnType<typeof createBatchStore>;
