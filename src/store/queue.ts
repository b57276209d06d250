import type { InventorySnapshot } from '../inventory/model';
import { ActionFailureReason, ActionStatus, type Job, type ScanTarget } from '../model';
import type { Queryable, Sql } from './db';
import type { JobChanges } from './jobs';
import { writeSnapshots, type InventoryUpdate } from './snapshots';
import { TURN_ORDER } from './turns';

/** A host scan handed to a worker, with what it needs to reach the host. */
export interface ClaimedScan extends ScanTarget {
  id: string;
  jobId: string;
  hostId: string | null;
  attempts: number;
  /** Who scheduled it: the runner starts waiting scans round-robin across lanes (turns.ts). */
  lane: string;
}

/** How a scan ended, as the worker reports it. */
export interface ScanResult {
  status: ActionStatus.Complete | ActionStatus.CompletedWithErrors | ActionStatus.Failed | ActionStatus.Cancelled;
  description: string;
  failureReason: ActionFailureReason;
  ipAddress?: string | null;
  dnsHostName?: string | null;
  os?: string | null;
  version?: string | null;
  hostConnected: boolean;
  /** The SSH host key the host presented, when the scan read it. */
  hostKey?: { fingerprint: string; algorithm: string } | null;
  /** What a credentialed scan read; recorded as the host's new snapshot with the result. */
  inventory?: InventorySnapshot | null;
}

/** What recording a batch of results changed. */
export interface Finished {
  jobs: Job[];
  recorded: Set<string>;
  claimed: ClaimedScan[];
  /** New inventory snapshots and their differences from the previous ones. */
  inventory: InventoryUpdate[];
}

const ms = (param: string) => `make_interval(secs => ${param}::double precision / 1000)`;
// Scans whose findings describe the host: complete, or complete with parts that could not be read.
const COMPLETED = `${ActionStatus.Complete}, ${ActionStatus.CompletedWithErrors}`;

/**
 * The work queue over `host_scans`: claims take leases with FOR UPDATE SKIP LOCKED, and every lease time
 * comes from the database clock, so workers on machines with skewed clocks agree. Lock order is always
 * scan rows, then job rows. Each transition returns the jobs it changed, as they are after the change.
 */
export function createQueue(db: Sql, changed: JobChanges, options: { snapshotsKept: number }) {
  return {
    /** Lease up to `limit` queued scans that are due to `owner` and mark them Running. */
    async claim(owner: string, limit: number, leaseMs: number): Promise<{ scans: ClaimedScan[]; jobs: Job[] }> {
      return db.transaction(async (tx) => {
        const scans = await claimIn(tx, owner, limit, leaseMs);
        return { scans, jobs: await changed(tx, scans.map((s) => s.jobId)) };
      });
    },

    /**
     * Extend the leases `owner` still holds; returns those it holds, and which of them were cancelled.
     * Never waits for a row lock: a renewal that waited for a result write of the same scans, each taking
     * its rows in its own order, deadlocked with it, which stalled both for PostgreSQL's deadlock_timeout
     * and, when the write was the one aborted, lost its results and ran its scans again once their leases
     * expired. A row another transaction holds is being written (its result recorded, or its lease
     * reclaimed); it is reported as it was last committed and renewed at the next heartbeat.
     */
    async heartbeat(owner: string, scanIds: readonly string[], leaseMs: number): Promise<{ held: Set<string>; cancelled: Set<string> }> {
      if (scanIds.length === 0) return { held: new Set(), cancelled: new Set() };
      const mine = `id = ANY($2::uuid[]) AND lease_owner = $1 AND status = ${ActionStatus.Running}`;
      const rows = await db.query<{ id: string; cancel_requested: boolean }>(
        `WITH renewed AS (
           UPDATE host_scans SET lease_expires_at = now() + ${ms('$3')}
           WHERE id IN (SELECT id FROM host_scans WHERE ${mine} FOR UPDATE SKIP LOCKED)
           RETURNING id, cancel_requested)
         SELECT id, cancel_requested FROM renewed
         UNION ALL
         SELECT id, cancel_requested FROM host_scans WHERE ${mine} AND id NOT IN (SELECT id FROM renewed)`,
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
    ): Promise<Finished> {
      if (results.length === 0) return { jobs: [], recorded: new Set(), claimed: [], inventory: [] };
      const col = <T>(pick: (r: ScanResult) => T) => results.map((r) => pick(r.result));
      return db.transaction(async (tx) => {
        // One statement records the results and copies what scans that ran (not cancelled) found into the
        // inventory: when the host was last scanned and, when complete, what it is.
        const recording = tx.query<{ id: string; job_id: string; host_id: string | null }>(
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
               os = CASE WHEN d.status IN (${COMPLETED}) THEN coalesce(d.os, h.os) ELSE h.os END,
               version = CASE WHEN d.status IN (${COMPLETED}) THEN coalesce(d.version, h.version) ELSE h.version END,
               ip_address = CASE WHEN d.status IN (${COMPLETED}) THEN coalesce(d.ip, h.ip_address) ELSE h.ip_address END,
               modified_at = now()
             FROM done d WHERE h.id = d.host_id AND d.status <> ${ActionStatus.Cancelled})
           SELECT id, job_id, host_id FROM done`,
          [owner, results.map((r) => r.scanId), col((r) => r.status), col((r) => r.description.slice(0, 1000)), col((r) => r.failureReason),
            col((r) => r.ipAddress ?? null), col((r) => r.dnsHostName ?? null), col((r) => r.os ?? null), col((r) => r.version ?? null),
            col((r) => r.hostConnected)],
        );
        // The slots these results free are filled in the same transaction (one commit per cycle). The claim
        // needs nothing the record returns, so both go out together (see poolDb's pipeline).
        const [rows, claimed] = await Promise.all([
          recording,
          refill && refill.limit > 0 ? claimIn(tx, owner, refill.limit, refill.leaseMs) : ([] as ClaimedScan[]),
        ]);
        // What credentialed and first-contact scans read goes with their results, in the same transaction.
        const hostOf = new Map(rows.filter((r) => r.host_id).map((r) => [r.id, r.host_id!]));
        const read = results.filter((r) => hostOf.has(r.scanId));
        await trustHostKeys(tx, read.flatMap((r) => (r.result.hostKey ? [{ hostId: hostOf.get(r.scanId)!, ...r.result.hostKey }] : [])));
        const inventory = await writeSnapshots(
          tx,
          read.flatMap((r) => (r.result.inventory ? [{ hostId: hostOf.get(r.scanId)!, scanId: r.scanId, snapshot: r.result.inventory, hostKey: r.result.hostKey ?? null }] : [])),
          options.snapshotsKept,
        );
        return {
          jobs: await changed(tx, [...rows.map((r) => r.job_id), ...claimed.map((c) => c.jobId)]),
          recorded: new Set(rows.map((r) => r.id)),
          claimed,
          inventory,
        };
      });
    },

    /** Hand leases back without counting the attempt (graceful stop); cancelled ones end Cancelled, paused ones wait Paused. */
    async release(owner: string, scanIds: readonly string[]): Promise<Job[]> {
      if (scanIds.length === 0) return [];
      return db.transaction(async (tx) => {
        const rows = await tx.query<{ job_id: string }>(
          `UPDATE host_scans SET
             status = CASE WHEN cancel_requested THEN ${ActionStatus.Cancelled}
                           WHEN pause_requested THEN ${ActionStatus.Paused} ELSE ${ActionStatus.Queued} END,
             status_description = CASE WHEN cancel_requested THEN 'Cancelled' WHEN pause_requested THEN 'Paused' ELSE 'Queued' END,
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
     * backoff that doubles per attempt (Paused instead, when paused meanwhile), or end Failed / SystemError
     * once `maxAttempts` were used. Scans in
     * `held` are left alone: the caller runs them and will renew their leases (a late heartbeat of a busy
     * process is not a dead worker).
     */
    async reclaimExpired(maxAttempts: number, backoffMs: number, held: readonly string[] = []): Promise<Job[]> {
      return db.transaction(async (tx) => {
        const rows = await tx.query<{ job_id: string }>(
          `UPDATE host_scans SET
             status = CASE WHEN cancel_requested THEN ${ActionStatus.Cancelled}
                           WHEN attempts >= $1 THEN ${ActionStatus.Failed}
                           WHEN pause_requested THEN ${ActionStatus.Paused} ELSE ${ActionStatus.Queued} END,
             status_description = CASE
               WHEN cancel_requested THEN 'Cancelled'
               WHEN attempts >= $1 THEN 'Failed: the scan was interrupted ' || attempts || ' times (its worker stopped); no retries left'
               WHEN pause_requested THEN 'Paused (attempt ' || attempts || ' was interrupted; resume retries it)'
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
  // The host's login and key trust are read as they are now: a credential set after scheduling counts.
  // Due scans go by turn, so callers take turns (turns.ts).
  const rows = await tx.query<ClaimRow>(
    `WITH claimed AS (
       UPDATE host_scans s SET status = ${ActionStatus.Running}, status_description = 'Running',
         attempts = s.attempts + 1, lease_owner = $1, lease_expires_at = now() + ${ms('$3')},
         started_at = now(), modified_at = now()
       WHERE s.id = ANY(ARRAY(
         SELECT id FROM host_scans WHERE status = ${ActionStatus.Queued} AND run_after <= now()
         ${TURN_ORDER} LIMIT $2 FOR UPDATE SKIP LOCKED))
       RETURNING s.id, s.job_id, s.host_id, s.lane, s.name, s.dns_host_name, s.ip_address, s.ssh_port, s.win_rm_port, s.attempts)
     SELECT c.*, h.credential_id, h.ssh_trust, h.accept_key_on_first_contact, h.ssh_host_key
     FROM claimed c LEFT JOIN hosts h ON h.id = c.host_id`,
    [owner, limit, leaseMs],
  );
  return rows.map(toClaimed);
}

/**
 * Record host keys that scans read. A host without a trusted key trusts the first one when its policy
 * accepts keys at first contact; AlwaysTrust (0) trusts whatever it sees; otherwise a different key is
 * kept aside as presented, for an Admin to accept, and the trusted one stays.
 */
async function trustHostKeys(tx: Queryable, keys: readonly { hostId: string; fingerprint: string; algorithm: string }[]): Promise<void> {
  if (keys.length === 0) return;
  const trusted = `CASE WHEN h.ssh_trust = 0 OR (h.ssh_host_key IS NULL AND h.accept_key_on_first_contact) THEN v.key ELSE h.ssh_host_key END`;
  await tx.query(
    `UPDATE hosts h SET ssh_host_key = ${trusted},
       ssh_host_key_algorithm = CASE WHEN ${trusted} = v.key THEN v.alg ELSE h.ssh_host_key_algorithm END,
       ssh_host_key_presented = CASE WHEN ${trusted} = v.key THEN NULL ELSE v.key END
     FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(host_id, key, alg) WHERE h.id = v.host_id`,
    [keys.map((k) => k.hostId), keys.map((k) => k.fingerprint), keys.map((k) => k.algorithm)],
  );
}

interface ClaimRow {
  id: string;
  job_id: string;
  host_id: string | null;
  lane: string;
  name: string;
  dns_host_name: string | null;
  ip_address: string | null;
  ssh_port: number | null;
  win_rm_port: number | null;
  attempts: number;
  credential_id: string | null;
  ssh_trust: number | null;
  accept_key_on_first_contact: boolean | null;
  ssh_host_key: string | null;
}

const toClaimed = (r: ClaimRow): ClaimedScan => ({
  id: r.id,
  jobId: r.job_id,
  hostId: r.host_id,
  lane: r.lane,
  name: r.name,
  dnsHostName: r.dns_host_name,
  ipAddress: r.ip_address,
  sshPort: r.ssh_port,
  winRmPort: r.win_rm_port,
  attempts: r.attempts,
  ...(r.ssh_trust === null
    ? {}
    : { ssh: { credentialId: r.credential_id, trust: r.ssh_trust, acceptKeyOnFirstContact: r.accept_key_on_first_contact ?? true, trustedKey: r.ssh_host_key } }),
});
