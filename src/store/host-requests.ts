import { randomUUID } from 'node:crypto';
import type { AuditEntry } from '../audit';
import { requestHostName, type HostScanJobRequest } from '../host-requests';
import type { Creator, Job } from '../model';
import { appendAudit } from './audit';
import { recordBatch } from './batches';
import { ACTIVE_SCAN, replanBeforeBulkInsert, type Queryable, type Sql } from './db';
import type { JobChanges } from './jobs';
import { firstTurn } from './turns';

export type RequestJobResult =
  | { job: Job; batchId: string; hostIds: string[]; unknownCredentials?: undefined }
  | { unknownCredentials: number[]; job?: undefined };

/**
 * The vendor's `POST /api/v1/HostScanJob`: hosts from HostScanJobRequests, created or updated by name,
 * and one job that scans them, in one transaction.
 */
export function createRequestStore(db: Sql, changed: JobChanges) {
  return {
    /** For each request, whether the credential it names (by id, else by name) exists; true when it names none. */
    async credentialsKnown(requests: readonly HostScanJobRequest[]): Promise<boolean[]> {
      const found = await credentialsOf(db, requests);
      return requests.map((_, i) => found[i] !== undefined);
    },

    /**
     * Upsert the hosts (by name: the DNS name, else the address; given fields replace stored ones, `os`
     * only fills a host that has none) and make one job of a scan per host that has no active scan. When
     * every host already has one, the first host's active job is the answer. Nothing is written when a
     * named credential does not exist.
     */
    async createJob(requests: readonly HostScanJobRequest[], creator: Creator, audit?: AuditEntry): Promise<RequestJobResult> {
      return db.transaction(async (tx) => {
        const credentials = await credentialsOf(tx, requests);
        const unknown = requests.flatMap((_, i) => (credentials[i] === undefined ? [i] : []));
        if (unknown.length > 0) return { unknownCredentials: unknown };

        // One row per host name (the last request for a name wins), in order of first mention.
        const byName = new Map<string, { r: HostScanJobRequest; credentialId: string | null }>();
        requests.forEach((r, i) => byName.set(requestHostName(r).toLowerCase(), { r, credentialId: credentials[i]! }));
        const rows = [...byName.values()];
        const col = <T>(pick: (v: (typeof rows)[number]) => T) => rows.map(pick);
        const values = [col((v) => requestHostName(v.r)), col((v) => v.r.dnsHostName), col((v) => v.r.ipAddress), col((v) => v.r.os),
          col((v) => v.r.sshPort), col((v) => v.credentialId), col((v) => v.r.sshTrustActionType), col((v) => v.r.acceptThumbprintOnFirstDiscovery),
          col((v) => v.r.trustedThumbprint)];
        const unnest = `unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::uuid[], $7::smallint[], $8::boolean[], $9::text[])
          AS v(name, dns, ip, os, port, cred, trust, accept, key)`;
        await tx.query(
          `UPDATE hosts h SET dns_host_name = coalesce(v.dns, h.dns_host_name), ip_address = coalesce(v.ip, h.ip_address),
             os = coalesce(h.os, v.os), ssh_port = coalesce(v.port, h.ssh_port), credential_id = coalesce(v.cred, h.credential_id),
             ssh_trust = coalesce(v.trust, h.ssh_trust), accept_key_on_first_contact = coalesce(v.accept, h.accept_key_on_first_contact),
             ssh_host_key = coalesce(v.key, h.ssh_host_key), modified_at = now()
           FROM ${unnest} WHERE lower(h.name) = lower(v.name)`,
          values,
        );
        await tx.query(
          `INSERT INTO hosts (id, name, dns_host_name, ip_address, os, ssh_port, credential_id, ssh_trust, accept_key_on_first_contact, ssh_host_key)
           SELECT gen_random_uuid(), v.name, v.dns, v.ip, v.os, v.port, v.cred, coalesce(v.trust, 2), coalesce(v.accept, true), v.key
           FROM ${unnest} ON CONFLICT DO NOTHING`,
          values,
        );
        const names = col((v) => requestHostName(v.r).toLowerCase());
        const hosts = await tx.query<{ id: string; key: string }>(
          'SELECT id, lower(name) AS key FROM hosts WHERE lower(name) = ANY($1::text[]) FOR SHARE',
          [names],
        );
        const idOf = new Map(hosts.map((h) => [h.key, h.id]));
        const hostIds = names.map((n) => idOf.get(n)!);

        const jobId = randomUUID();
        await replanBeforeBulkInsert(tx, hostIds.length);
        const inserted = await tx.query<{ id: string }>(
          `WITH j AS (INSERT INTO host_scan_jobs (id, created_by, created_by_user_name, created_from_address) VALUES ($1, $2, $3, $4))
           INSERT INTO host_scans (id, job_id, host_id, position, name, dns_host_name, ip_address, os, version, ssh_port, win_rm_port, lane, turn)
           SELECT gen_random_uuid(), $1, h.id, v.position, h.name, h.dns_host_name, h.ip_address, h.os, h.version, h.ssh_port, h.win_rm_port,
             $2, ${firstTurn('$2')} + v.position - 1
           FROM unnest($5::uuid[]) WITH ORDINALITY AS v(host_id, position) JOIN hosts h ON h.id = v.host_id
           ON CONFLICT (host_id) WHERE ${ACTIVE_SCAN} DO NOTHING
           RETURNING id`,
          [jobId, creator.subject, creator.userName, creator.address, hostIds],
        );
        let answerId: string = jobId;
        if (inserted.length === 0) {
          await tx.query('DELETE FROM host_scan_jobs WHERE id = $1', [jobId]);
          const [active] = await tx.query<{ job_id: string }>(`SELECT job_id FROM host_scans WHERE host_id = $1 AND ${ACTIVE_SCAN}`, [hostIds[0]]);
          answerId = active!.job_id;
        }
        const batchId = randomUUID();
        await recordBatch(tx, batchId, creator.subject, [answerId]);
        // Read through `changed`, which also announces the new job (and bumps an existing one's revision, harmlessly).
        const [job] = await changed(tx, [answerId]);
        if (audit) {
          await appendAudit(tx, [{ ...audit, target: answerId, details: { ...audit.details, hosts: hostIds.length, newScans: inserted.length, batchId } }]);
        }
        return { job: job!, batchId, hostIds };
      });
    },
  };
}

export type RequestStore = ReturnType<typeof createRequestStore>;

/** Per request: the id of the credential it names, null when it names none, undefined when it names one that does not exist. */
async function credentialsOf(q: Queryable, requests: readonly HostScanJobRequest[]): Promise<(string | null | undefined)[]> {
  const ids = requests.flatMap((r) => (r.credentialId ? [r.credentialId] : []));
  const names = requests.flatMap((r) => (!r.credentialId && r.credentialName ? [r.credentialName.toLowerCase()] : []));
  const rows = ids.length + names.length === 0 ? [] : await q.query<{ id: string; key: string }>(
    'SELECT id, lower(name) AS key FROM credentials WHERE id = ANY($1::uuid[]) OR lower(name) = ANY($2::text[])',
    [ids, names],
  );
  const byId = new Set(rows.map((r) => r.id));
  const byName = new Map(rows.map((r) => [r.key, r.id]));
  return requests.map((r) =>
    r.credentialId ? (byId.has(r.credentialId) ? r.credentialId : undefined)
    : r.credentialName ? byName.get(r.credentialName.toLowerCase())
    : null,
  );
}
