import { jobState, type HostScan, type Job } from './model';

// The vendor's status view of a job (SbPAM.Models.HostScanJobStatus / HostScanHostStatus), which both
// edges serve: REST as it is, GraphQL with a few more fields.

/** `HostScanHostStatus`: one host of a job. */
export const hostStatusView = (s: HostScan) => ({
  hostScanHostId: s.id,
  hostId: s.hostId,
  name: s.name,
  dnsHostName: s.dnsHostName,
  os: s.os,
  ipAddress: s.ipAddress,
  version: s.version,
  status: s.status,
  statusDescription: s.statusDescription,
  failureReason: s.failureReason,
});

/** `HostScanJobStatus`: a job's derived status and each of its hosts. */
export const jobStatusView = (job: Job) => ({
  id: job.id,
  ...jobState(job.scans),
  hostScanHostStatus: job.scans.map(hostStatusView),
});
