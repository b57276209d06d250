import { jobState, type BatchProgress, type Host as HostModel, type HostScan, type Job } from '../model';
import { hostStatusView } from '../status-view';
import { hostCursor, jobCursor, type Page } from '../service';
import { HostKeyTrust, type Host, type HostConnection, type HostScanBatch, type HostScanHostStatus, type HostScanJob, type HostScanJobConnection, type HostScanJobEdge, type HostScanJobStatus } from './types';

// Model → GraphQL objects. Names follow the vendor's where the vendor has one.

/**
 * `fn` once per job state: jobs are shared, immutable states (the job cache hands the same object to
 * every reader until the job changes), so a state read again, by many callers or on every page, is
 * mapped once. The results are shared too and must not be changed.
 */
function perState<T extends object>(fn: (job: Job) => T): (job: Job) => T {
  const mapped = new WeakMap<Job, T>();
  return (job) => {
    let value = mapped.get(job);
    if (!value) mapped.set(job, (value = fn(job)));
    return value;
  };
}

const hostStatus = (s: HostScan): HostScanHostStatus => ({
  ...hostStatusView(s),
  hostConnected: s.hostConnected,
  attempts: s.attempts,
  startedDateTimeUtc: s.startedAt,
  finishedDateTimeUtc: s.finishedAt,
});

export const toJobStatus = perState((job): HostScanJobStatus => ({
  id: job.id,
  ...jobState(job.scans),
  hostScanHostStatus: job.scans.map(hostStatus),
  revision: job.revision,
}));

export const toJob = perState((job): HostScanJob => ({
  ...toJobStatus(job),
  createdBy: job.createdBy,
  createdByUserName: job.createdByUserName,
  createdFromAddress: job.createdFromAddress,
  nodeId: job.nodeId,
  createdDateTimeUtc: job.createdAt,
  modifiedDateTimeUtc: job.modifiedAt,
  scheduleId: job.scheduleId ?? null,
}));

const toJobEdge = perState((job): HostScanJobEdge => ({ cursor: jobCursor(job), node: toJob(job) }));

export const toHost = (h: HostModel): Host => ({
  id: h.id,
  name: h.name,
  dnsHostName: h.dnsHostName,
  ipAddress: h.ipAddress,
  os: h.os,
  version: h.version,
  sshPort: h.sshPort,
  winRmPort: h.winRmPort,
  lastScanTimeUtc: h.lastScanTimeUtc,
  lastScanStartTimeUtc: h.lastScanStartTimeUtc,
  lastScanStatus: h.lastScanStatus,
  credentialName: h.credentialName,
  credentialId: h.credentialId,
  sshTrust: h.sshTrust,
  acceptKeyOnFirstContact: h.acceptKeyOnFirstContact,
  sshHostKeyFingerprint: h.sshHostKey,
  sshHostKeyAlgorithm: h.sshHostKeyAlgorithm,
  sshHostKeyPresented: h.sshHostKeyPresented,
  sshHostKeyTrust: h.sshHostKeyPresented ? (h.sshHostKey ? HostKeyTrust.Changed : HostKeyTrust.Untrusted) : h.sshHostKey ? HostKeyTrust.Trusted : HostKeyTrust.None,
  createdDateTimeUtc: h.createdAt,
  modifiedDateTimeUtc: h.modifiedAt,
});

export function toJobConnection(page: Page<Job>): HostScanJobConnection {
  const edges = page.items.map(toJobEdge);
  return { edges, nodes: edges.map((e) => e.node), pageInfo: { hasNextPage: page.hasMore, endCursor: edges.at(-1)?.cursor ?? null } };
}

export function toHostConnection(page: Page<HostModel>): HostConnection {
  const edges = page.items.map((host) => ({ cursor: hostCursor(host), node: toHost(host) }));
  return { edges, nodes: edges.map((e) => e.node), pageInfo: { hasNextPage: page.hasMore, endCursor: edges.at(-1)?.cursor ?? null } };
}

export const toBatch = (b: BatchProgress): HostScanBatch => ({
  id: b.id,
  total: b.total,
  queued: b.queued,
  running: b.running,
  paused: b.paused,
  complete: b.complete,
  failed: b.failed,
  cancelled: b.cancelled,
  percent: b.percent,
  etaSeconds: b.etaSeconds,
  createdDateTimeUtc: b.createdAt,
});
