import type { ActionFailureReason, ActionStatus, Host, HostScan, Job } from '../model';

// Row shapes as the SQL in store.ts selects them, and their mapping to the model.

export const HOST_COLUMNS = `h.id, h.name, h.dns_host_name, h.ip_address, h.os, h.version, h.ssh_port,
  h.win_rm_port, h.last_scan_time, h.last_scan_start_time, h.last_scan_status, h.created_at, h.modified_at,
  h.credential_id, (SELECT c.name FROM credentials c WHERE c.id = h.credential_id) AS credential_name, h.ssh_trust,
  h.accept_key_on_first_contact, h.ssh_host_key, h.ssh_host_key_algorithm, h.ssh_host_key_presented`;

export interface HostRow {
  id: string;
  name: string;
  dns_host_name: string | null;
  ip_address: string | null;
  os: string | null;
  version: string | null;
  ssh_port: number | null;
  win_rm_port: number | null;
  last_scan_time: Date | null;
  last_scan_start_time: Date | null;
  last_scan_status: number | null;
  created_at: Date;
  modified_at: Date;
  credential_id: string | null;
  credential_name: string | null;
  ssh_trust: number;
  accept_key_on_first_contact: boolean;
  ssh_host_key: string | null;
  ssh_host_key_algorithm: string | null;
  ssh_host_key_presented: string | null;
}

export const toHost = (r: HostRow): Host => ({
  id: r.id,
  name: r.name,
  dnsHostName: r.dns_host_name,
  ipAddress: r.ip_address,
  os: r.os,
  version: r.version,
  sshPort: r.ssh_port,
  winRmPort: r.win_rm_port,
  lastScanTimeUtc: r.last_scan_time,
  lastScanStartTimeUtc: r.last_scan_start_time,
  lastScanStatus: r.last_scan_status as ActionStatus | null,
  credentialId: r.credential_id,
  credentialName: r.credential_name,
  sshTrust: r.ssh_trust,
  acceptKeyOnFirstContact: r.accept_key_on_first_contact,
  sshHostKey: r.ssh_host_key,
  sshHostKeyAlgorithm: r.ssh_host_key_algorithm,
  sshHostKeyPresented: r.ssh_host_key_presented,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
});

export const JOB_COLUMNS = `j.id AS job_id, j.seq::text AS job_seq, j.revision AS job_revision,
  j.created_by, j.created_by_user_name, j.created_from_address,
  j.created_at AS job_created_at, j.modified_at AS job_modified_at, j.schedule_id,
  s.id, s.host_id, s.name, s.dns_host_name, s.ip_address, s.os, s.version, s.status,
  s.status_description, s.failure_reason, s.host_connected, s.attempts, s.started_at, s.finished_at,
  s.created_at, s.modified_at`;

export interface JobScanRow {
  job_id: string;
  job_seq: string;
  job_revision: number;
  created_by: string | null;
  created_by_user_name: string | null;
  created_from_address: string | null;
  job_created_at: Date;
  job_modified_at: Date;
  schedule_id: string | null;
  id: string;
  host_id: string | null;
  name: string;
  dns_host_name: string | null;
  ip_address: string | null;
  os: string | null;
  version: string | null;
  status: number;
  status_description: string;
  failure_reason: number;
  host_connected: boolean;
  attempts: number;
  started_at: Date | null;
  finished_at: Date | null;
  created_at: Date;
  modified_at: Date;
}

const toScan = (r: JobScanRow): HostScan => ({
  id: r.id,
  jobId: r.job_id,
  hostId: r.host_id,
  name: r.name,
  dnsHostName: r.dns_host_name,
  ipAddress: r.ip_address,
  os: r.os,
  version: r.version,
  status: r.status as ActionStatus,
  statusDescription: r.status_description,
  failureReason: r.failure_reason as ActionFailureReason,
  hostConnected: r.host_connected,
  attempts: r.attempts,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
});

/** Group job×scan rows (ordered by job, then scan position) into jobs, keeping the row order. */
export function toJobs(rows: readonly JobScanRow[], nodeId: string): Job[] {
  const jobs = new Map<string, Job>();
  for (const r of rows) {
    let job = jobs.get(r.job_id);
    if (!job) {
      job = {
        id: r.job_id,
        seq: r.job_seq,
        revision: r.job_revision,
        createdBy: r.created_by,
        createdByUserName: r.created_by_user_name,
        createdFromAddress: r.created_from_address,
        nodeId,
        createdAt: r.job_created_at,
        modifiedAt: r.job_modified_at,
        scheduleId: r.schedule_id,
        scans: [],
      };
      jobs.set(r.job_id, job);
    }
    job.scans.push(toScan(r));
  }
  return [...jobs.values()];
}
