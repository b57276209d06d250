import { ActionFailureReason, ActionStatus, type Job } from '../model';
import type { Db } from './db';
import type { JobStore } from './jobs';

/** A host scan handed to a worker, with what it needs to reach the host. */
export interface ClaimedScan {
  id: string;
  jobId: string;
  hostId: string | null;
  name: string;
  dnsHostName: string | null;
  ipAddress: string | null;
  sshPort: number | null;
  winRmPort: number | null;
  attempts: number;
}

/** How a scan ended, as the worker reports it. */
export interface ScanResult {
  status: ActionStatus.Complete | ActionStatus.Failed | ActionStatus.Cancelled;
  description: string;
  failureReason: ActionFailureReason;
  ipAddress?: string | null;
  dnsHostName?: string | null;
  os?: string | null;
  version?: string | null;
  hostConnected: boolean;
}

const ms = (param: string) => `make_interval(secs => ${param}::double precision / 1000)`;

/**
 * The work queue over `host_scans`: claims take leases with FOR UPDATE SKIP LOCKED, and every lease time
 * comes from the database clock, so workers on machines with skewed clocks agree. Lock order is always
 * scan rows, then job rows. Each transition returns the jobs it changed, as they are after the change.
 */
export function createQueue(db: Db, jobs: JobStore) {
  const changed = jobs.changed;

  return {
    /** Lease up to `limit` queued scans that are due to `owner` and mark them Running. */
    async claim(owner: string, limit: number, leaseMs: number): Promise<{ scans: ClaimedScan[]; jobs: Job[] }> {
      return db.transaction(async (tx) => {
        const rows = await tx.query<ClaimRow>(
          `WITH next AS (
             SELECT id FROM host_scans WHERE status = ${ActionStatus.Queued} AND run_after <= now()
             ORDER BY run_after, created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           UPDATE host_scans s SET status = ${ActionStatus.Running}, status_description = 'Running',
             attempts = s.attempts + 1, lease_owner = $1, lease_expires_at = now() + ${ms('$3')},
             started_at = now(), modified_at = now()
           FROM next WHERE s.id = next.id
           RETURNING s.id, s.job_id, s.host_id, s.name, s.dns_host_name, s.ip_address, s.ssh_port, s.win_rm_port, s.attempts`,
          [owner, limit, leaseMs],
        );
        const scans = rows.map(toClaimed);
        return { scans, jobs: await changed(tx, scans.map((s) => s.jobId)) };
      });
    },

    /** Extend the leases `owner` still holds; returns those it holds, and which of them were cancelled. */
    async heartbeat(owner: string, scanIds: readonly string[], leaseMs: number): Promise<{ held: Set<string>; cancelled: Set<string> }> {
      if (scanIds.length === 0) return { held: new Set(), cancelled: new Set() };
      const rows = await db.query<{ id: string; cancel_requested: boolean }>(
        `UPDATE host_scans SET lease_expires_at = now() + ${ms('$3')}
         WHERE id = ANY($2::uuid[]) AND lease_owner = $1 AND status = ${ActionStatus.Running}
         RETURNING id, cancel_requested`,
        [owner, scanIds, leaseMs],
      );
      return { held: new Set(rows.map((r) => r.id)), cancelled: new Set(rows.filter((r) => r.cancel_requested).map((r) => r.id)) };
    },

    /**
     * Record the end of a scan `owner` still leases, and copy what was found into the host inventory.
     * Returns the changed job, or null when the lease was lost (someone else now owns the scan).
     */
    async finish(owner: string, scanId: string, result: ScanResult): Promise<Job | null> {
      return db.transaction(async (tx) => {
        const [row] = await tx.query<{ job_id: string; host_id: string | null }>(
          `UPDATE host_scans SET status = $3, status_description = $4, failure_reason = $5,
             ip_address = coalesce($6, ip_address), dns_host_name = coalesce($7, dns_host_name),
             os = coalesce($8, os), version = coalesce($9, version), host_connected = $10,
             finished_at = now(), modified_at = now(), lease_owner = NULL, lease_expires_at = NULL
           WHERE id = $2 AND lease_owner = $1 AND status = ${ActionStatus.Running}
           RETURNING job_id, host_id`,
          [owner, scanId, result.status, result.description.slice(0, 1000), result.failureReason, result.ipAddress ?? null,
            result.dnsHostName ?? null, result.os ?? null, result.version ?? null, result.hostConnected],
        );
        if (!row) return null;
        if (row.host_id && result.status !== ActionStatus.Cancelled) {
          const complete = result.status === ActionStatus.Complete;
          await tx.query(
            `UPDATE hosts SET last_scan_time = now(),
               last_scan_start_time = (SELECT started_at FROM host_scans WHERE id = $2),
               os = CASE WHEN $3 THEN coalesce($4, os) ELSE os END,
               version = CASE WHEN $3 THEN coalesce($5, version) ELSE version END,
               ip_address = CASE WHEN $3 THEN coalesce($6, ip_address) ELSE ip_address END,
               modified_at = now()
             WHERE id = $1`,
            [row.host_id, scanId, complete, result.os ?? null, result.version ?? null, result.ipAddress ?? null],
          );
        }
        return (await changed(tx, [row.job_id]))[0] ?? null;
      });
    },

    /** Hand leases back without counting the attempt (graceful stop); cancelled ones end Cancelled. */
    async release(owner: string, scanIds: readonly string[]): Promise<Job[]> {
      if (scanIds.length === 0) return [];
      return db.transaction(async (tx) => {
        const rows = await tx.query<{ job_id: string }>(
          `UPDATE host_scans SET
             status = CASE WHEN cancel_requested THEN ${ActionStatus.Cancelled} ELSE ${ActionStatus.Queued} END,
             status_description = CASE WHEN cancel_requested THEN 'Cancelled' ELSE 'Queued' END,
             finished_at = CASE WHEN cancel_requested THEN now() END,
             attempts = greatest(attempts - 1, 0), run_after = now(),
             lease_owner = NULL, lease_expires_at = NULL, modified_at = now()
           WHERE id = ANY($2::uuid[]) AND lease_owner = $1 AND status = ${ActionStatus.Running}
           RETURNING job_id`,
          [owner, scanIds],
        );
        return changed(tx, rows.map((r) => r.job_id));
      });
    },

    /**
     * Leases that expired belong to workers that died or hung. Their scans go back to the queue after a
     * backoff that doubles per attempt, or end Failed / SystemError once `maxAttempts` were used.
     */
    async reclaimExpired(maxAttempts: number, backoffMs: number): Promise<Job[]> {
      return db.transaction(async (tx) => {
        const rows = await tx.query<{ job_id: string }>(
          `UPDATE host_scans SET
             status = CASE WHEN cancel_requested THEN ${ActionStatus.Cancelled}
                           WHEN attempts >= $1 THEN ${ActionStatus.Failed} ELSE ${ActionStatus.Queued} END,
             status_description = CASE
               WHEN cancel_requested THEN 'Cancelled'
               WHEN attempts >= $1 THEN 'Failed: the scan was interrupted ' || attempts || ' times (its worker stopped); no retries left'
               ELSE 'Queued (retrying: attempt ' || attempts || ' was interrupted)' END,
             failure_reason = CASE WHEN NOT cancel_requested AND attempts >= $1
                                   THEN ${ActionFailureReason.SystemError} ELSE ${ActionFailureReason.NoError} END,
             finished_at = CASE WHEN cancel_requested OR attempts >= $1 THEN now() END,
             run_after = now() + ${ms('$2')} * power(2, greatest(attempts - 1, 0)) * (0.75 + random() / 2),
             lease_owner = NULL, lease_expires_at = NULL, modified_at = now()
           WHERE id IN (SELECT id FROM host_scans WHERE status = ${ActionStatus.Running} AND lease_expires_at < now()
                        FOR UPDATE SKIP LOCKED)
           RETURNING job_id`,
          [maxAttempts, backoffMs],
        );
        return changed(tx, rows.map((r) => r.job_id));
      });
    },

    /** Scans waiting to run (for metrics and tests). */
    async depth(): Promise<{ queued: number; running: number }> {
      const [row] = await db.query<{ queued: number; running: number }>(
        `SELECT count(*) FILTER (WHERE status = ${ActionStatus.Queued})::int AS queued,
                count(*) FILTER (WHERE status = ${ActionStatus.Running})::int AS running
         FROM host_scans WHERE status IN (${ActionStatus.Queued}, ${ActionStatus.Running})`,
      );
      return row!;
    },
  };
}

export type Queue = ReturnType<typeof createQueue>;

interface ClaimRow {
  id: string;
  job_id: string;
  host_id: string | null;
  name: string;
  dns_host_name: string | null;
  ip_address: string | null;
  ssh_port: number | null;
  win_rm_port: number | null;
  attempts: number;
}

const toClaimed = (r: ClaimRow): ClaimedScan => ({
  id: r.id,
  jobId: r.job_id,
  hostId: r.host_id,
  name: r.name,
  dnsHostName: r.dns_host_name,
  ipAddress: r.ip_address,
  sshPort: r.ssh_port,
  winRmPort: r.win_rm_port,
  attempts: r.attempts,
});
