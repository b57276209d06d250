import type { HostScan, Job } from '../model';
import { isUuid } from '../validate';

// The vendor's JSON shapes (SbPAM.Models.*), camelCase, enums as integers.

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);


/** The job's own fields of `SbPAM.Models.HostScanJob`, with the join list given. */
function jobFields(job: Job, joins: unknown[]) {
  return {
    id: job.id,
    // The vendor's createdBy is a user id (UUID); a subject that is not one is only in createdByUserName.
    createdBy: isUuid(job.createdBy) ? job.createdBy : null,
    createdByUserName: job.createdByUserName,
    createdFromAddress: job.createdFromAddress,
    hostScanJobHostJoin: joins,
    nodeId: job.nodeId,
    createdDateTimeUtc: iso(job.createdAt),
    modifiedDateTimeUtc: iso(job.modifiedAt),
  };
}

/**
 * `SbPAM.Models.HostScanJob`, as `GET /api/v1/HostScanJob/{id}` returns it. Each join carries the host scan
 * (`hostScanHost`) and its execution state (`actionQueue`: status, statusDescription, failureReason);
 * our host scan record serves as both, so `hostScanHostId` and `actionQueueId` are the same id.
 */
export function toJobEntity(job: Job) {
  const shallow = jobFields(job, []);
  return jobFields(
    job,
    job.scans.map((s) => ({
      hostScanJobId: job.id,
      hostScanJob: shallow,
      hostScanHostId: s.id,
      hostScanHost: toHostScanHost(job, s),
      actionQueueId: s.id,
      actionQueue: toActionQueue(job, s),
      nodeId: job.nodeId,
      createdDateTimeUtc: iso(s.createdAt),
      modifiedDateTimeUtc: iso(s.modifiedAt),
    })),
  );
}

/** `SbPAM.Models.HostScanHost` */
export function toHostScanHost(job: Job, s: HostScan) {
  return hostScanHostShape({
    id: s.id, name: s.name, dnsHostName: s.dnsHostName, ipAddress: s.ipAddress, os: s.os, version: s.version, hostId: s.hostId,
    // A scan record keeps no credential (the host's may have changed since): none to give.
    credentialId: null, lastScanTimeUtc: iso(s.finishedAt), lastScanStartTimeUtc: iso(s.startedAt), hostScanUser: [], hostScanGroup: [], hostConnected: s.hostConnected,
    nodeId: job.nodeId, createdDateTimeUtc: iso(s.createdAt), modifiedDateTimeUtc: iso(s.modifiedAt),
  });
}

/** `SbPAM.Models.HostScanHost` from what the gateway knows of one; the fields it has no source for are null or empty. */
export function hostScanHostShape<U, G>(v: {
  id: string; name: string; dnsHostName: string | null; ipAddress: string | null; os: string | null; version: string | null; hostId: string | null;
  credentialId: string | null; lastScanTimeUtc: string | null; lastScanStartTimeUtc: string | null; hostScanUser: U[]; hostScanGroup: G[]; hostConnected: boolean;
  nodeId: string; createdDateTimeUtc: string | null; modifiedDateTimeUtc: string | null;
}) {
  return {
    id: v.id,
    name: v.name,
    dnsHostName: v.dnsHostName,
    ipAddress: v.ipAddress,
    os: v.os,
    version: v.version,
    lsaLookupCache: null,
    lastUpdatedDateTimeUtc: null,
    hostId: v.hostId,
    credentialId: v.credentialId,
    platformId: null,
    lastScanTimeUtc: v.lastScanTimeUtc,
    lastScanStartTimeUtc: v.lastScanStartTimeUtc,
    hostScanUser: v.hostScanUser,
    hostScanGroup: v.hostScanGroup,
    hostScanFeature: [],
    hostScanJobHostJoin: [],
    hostConnected: v.hostConnected,
    netBiosName: null,
    nodeId: v.nodeId,
    createdDateTimeUtc: v.createdDateTimeUtc,
    modifiedDateTimeUtc: v.modifiedDateTimeUtc,
  };
}

/** `SbPAM.Models.ActionQueue`: the execution record of one host scan. */
function toActionQueue(job: Job, s: HostScan) {
  return {
    id: s.id,
    actionJobId: null,
    runUserId: null,
    timeCreated: iso(s.createdAt),
    timeStarted: iso(s.startedAt),
    timeFinished: iso(s.finishedAt),
    heartBeatDateTimeUtc: null,
    status: s.status,
    statusDescription: s.statusDescription,
    failureReason: s.failureReason,
    actionGroupId: null,
    actionGroup: null,
    actionQueueAction: [],
    nodeId: job.nodeId,
    createdDateTimeUtc: iso(s.createdAt),
    modifiedDateTimeUtc: iso(s.modifiedAt),
  };
}
