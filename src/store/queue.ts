import { ActionFailureReason, ActionStatus, type Job, type ScanTarget } from '../model';
import type { Queryable, Sql } from './db';
import type { JobChanges } from './jobs';

/** A host scan handed to a worker, with what it needs to reach the host. */
export interface ClaimedScan extends ScanTarget {
  id: string;
  jobId: string;
  hostId: string | null;
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
export function createQueue(db: Sql, changed: JobChanges) {
  return {
    /** Lease up to `limit` queued scans that are due to `owner` and mark them Running. */
    async claim(owner: string, limit: number, leaseMs: number): Promise<{ scans: ClaimedScan[]; jobs: Job[] }> {
      return db.transaction(async (tx) => {
        const scans = await claimIn(tx, owner, limit, leaseMs);
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
     * Record how scans `owner` still leases ended, all in one transaction with set-based statements, and
     * copy what was found into the host inventory. Results for leases that were lost (someone else now
     * owns the scan) are ignored. With `refill`, also claim up to `refill.limit` more scans. Returns the
     * changed jobs, the ids of the scans recorded and the scans claimed.
     */
    async finish(
      owner: string,
      results: readonly { scanId: string; result: ScanResult }[],
      refill?: { limit: number; leaseMs: number },
    ): Promise<{ jobs: Job[]; recorded: Set<string>; claimed: ClaimedScan[] }> {
      if (results.length === 0) return { jobs: [], recorded: new Set(), claimed: [] };
      const col = <T>(pick: (r: ScanResult) => T) => results.map((r) => pick(r.result));
      return db.transaction(async (tx) => {
        // One statement records the results and copies what scans that ran (not cancelled) found into the
        // inventory: when the host was last scanned and, when complete, what it is.
        const rows = await tx.query<{ id: string; job_id: string }>(
          `WITH done AS (
             UPDATE host_scans s SET status = v.status, status_description = v.description, failure_reason = v.reason,
               ip_address = coalesce(v.ip, s.ip_address), dns_host_name = coalesce(v.dns, s.dns_host_name),
               os = coalesce(v.os, s.os), version = coalesce(v.version, s.version), host_connected = v.connected,
               finished_at = now(), modified_at = now(), lease_owner = NULL, lease_expires_at = NULL
             FROM unnest($2::uuid[], $3::smallint[], $4::text[], $5::smallint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::boolean[])
               AS v(id, status, description, reason, ip, dns, os, version, connected)
             WHERE s.id = v.id AND s.lease_owner = $1 AND s.status = ${ActionStatus.Running}
             RETURNING s.id, s.job_id, s.host_id, s.started_at, v.status, v.os, v.version, v.ip),
           inventory AS (
             UPDATE hosts h SET last_scan_time = now(), last_scan_start_time = d.started_at, last_scan_status = d.status,
               os = CASE WHEN d.status = ${ActionStatus.Complete} THEN coalesce(d.os, h.os) ELSE h.os END,
               version = CASE WHEN d.status = ${ActionStatus.Complete} THEN coalesce(d.version, h.version) ELSE h.version END,
               ip_address = CASE WHEN d.status = ${ActionStatus.Complete} THEN coalesce(d.ip, h.ip_address) ELSE h.ip_address END,
               modified_at = now()
             FROM done d WHERE h.id = d.host_id AND d.status <> ${ActionStatus.Cancelled})
           SELECT id, job_id FROM done`,
          [owner, results.map((r) => r.scanId), col((r) => r.status), col((r) => r.description.slice(0, 1000)), col((r) => r.failureReason),
            col((r) => r.ipAddress ?? null), col((r) => r.dnsHostName ?? null), col((r) => r.os ?? null), col((r) => r.version ?? null),
            col((r) => r.hostConnected)],
        );
        // The slots these results free are filled in the same transaction: one commit per cycle.
        const claimed = refill && refill.limit > 0 ? await claimIn(tx, owner, refill.limit, refill.leaseMs) : [];
        return {
          jobs: await changed(tx, [...rows.map((r) => r.job_id), ...claimed.map((c) => c.jobId)]),
          recorded: new Set(rows.map((r) => r.id)),
          claimed,
        };
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
     * backoff that doubles per attempt, or end Failed / SystemError once `maxAttempts` were used. Scans in
     * `held` are left alone: the caller runs them and will renew their leases (a late heartbeat of a busy
     * process is not a dead worker).
     */
    async reclaimExpired(maxAttempts: number, backoffMs: number, held: readonly string[] = []): Promise<Job[]> {
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
                          AND id <> ALL($3::uuid[])
                        FOR UPDATE SKIP LOCKED)
           RETURNING job_id`,
          [maxAttempts, backoffMs, held],
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

async function claimIn(tx: Queryable, owner: string, limit: number, leaseMs: number): Promise<ClaimedScan[]> {
  const rows = await tx.query<ClaimRow>(
    `UPDATE host_scans s SET status = ${ActionStatus.Running}, status_description = 'Running',
       attempts = s.attempts + 1, lease_owner = $1, lease_expires_at = now() + ${ms('$3')},
       started_at = now(), modified_at = now()
     WHERE s.id = ANY(ARRAY(
       SELECT id FROM host_scans WHERE status = ${ActionStatus.Queued} AND run_after <= now()
       ORDER BY run_after LIMIT $2 FOR UPDATE SKIP LOCKED))
     RETURNING s.id, s.job_id, s.host_id, s.name, s.dns_host_name, s.ip_address, s.ssh_port, s.win_rm_port, s.attempts`,
    [owner, limit, leaseMs],
  );
  return rows.map(toClaimed);
}

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
