/**
 * The host scan model. Enum integers follow the vendor's enum pages (`SbPAM.Constants.ActionConstants`):
 * the order listed there, numbered from 0 as .NET does by default. They are what the REST wire carries.
 */
export enum ActionStatus {
  Queued = 0,
  Running = 1,
  Complete = 2,
  Failed = 3,
  Cancelled = 4,
  CompletedWithErrors = 5,
  CompletedNotRun = 6,
  Paused = 7,
  Scheduled = 8,
  Unknown = 9,
  Pending = 10,
}

export enum ActionFailureReason {
  NoError = 0,
  UnknownError = 1,
  SystemError = 2,
  ActionServiceUnavailable = 3,
  ActionTimeout = 4,
  AccessDenied = 5,
  UserAlreadyMemberofGroup = 6,
  UserNotMemberofGroup = 7,
  InvalidGroupName = 8,
  InvalidUserName = 9,
  InvalidHostName = 10,
  FailedToConnect = 11,
}

/** A host scan in one of these states will not change again. */
export const TERMINAL_STATUSES: ReadonlySet<ActionStatus> = new Set([
  ActionStatus.Complete,
  ActionStatus.Failed,
  ActionStatus.Cancelled,
  ActionStatus.CompletedWithErrors,
  ActionStatus.CompletedNotRun,
]);

export const isTerminal = (status: ActionStatus): boolean => TERMINAL_STATUSES.has(status);

/** A machine in the inventory. */
export interface Host {
  id: string;
  name: string;
  dnsHostName: string | null;
  ipAddress: string | null;
  os: string | null;
  version: string | null;
  sshPort: number | null;
  winRmPort: number | null;
  lastScanTimeUtc: Date | null;
  lastScanStartTimeUtc: Date | null;
  /** How the last scan that ran ended (cancelled ones do not count); null before the first. */
  lastScanStatus: ActionStatus | null;
  /** The credential scans log in with (null: scans only probe and read the host key). */
  credentialId: string | null;
  credentialName: string | null;
  /** SshTrustAction (inventory/model.ts): 0 always trust, 1 warn on a changed key, 2 refuse a changed key. */
  sshTrust: number;
  /** Whether the first host key seen is trusted (the vendor's acceptThumbprintOnFirstDiscovery). */
  acceptKeyOnFirstContact: boolean;
  /** The trusted SSH host key's SHA-256 fingerprint and algorithm; null before one is trusted. */
  sshHostKey: string | null;
  sshHostKeyAlgorithm: string | null;
  /** A key the host presented that is not trusted (changed, or seen where first contact trusts none), for an Admin to accept. */
  sshHostKeyPresented: string | null;
  createdAt: Date;
  modifiedAt: Date;
}

/** A host as an operator declares it (HOSTS_FILE, upsertHosts); scan results are not part of it. */
export interface HostInput {
  id?: string;
  name: string;
  dnsHostName?: string | null;
  ipAddress?: string | null;
  sshPort?: number | null;
  winRmPort?: number | null;
  /** The credential to log in with: absent keeps the host's, null removes it. */
  credentialId?: string | null;
  /** The credential by name instead (resolved to `credentialId` before the store sees it). */
  credentialName?: string | null;
  /** SshTrustAction; absent keeps the host's (ErrorOnThumbprintMismatch for a new host). */
  sshTrust?: number;
  /** Absent keeps the host's (true for a new host). */
  acceptKeyOnFirstContact?: boolean;
}

/** How a scan may log in over SSH and which host key it trusts, from the host's settings when it was claimed. */
export interface SshAccess {
  /** The credential to log in with; null for a scan without login. */
  credentialId: string | null;
  /** SshTrustAction (inventory/model.ts): 0 always trust, 1 warn on a changed key, 2 refuse a changed key. */
  trust: number;
  /** Whether a host without a trusted key may be trusted at first contact (the vendor's acceptThumbprintOnFirstDiscovery). */
  acceptKeyOnFirstContact: boolean;
  /** The trusted SHA-256 host key fingerprint, null before first contact. */
  trustedKey: string | null;
}

/** What a scan needs to know to reach a host. */
export interface ScanTarget {
  name: string;
  dnsHostName: string | null;
  ipAddress: string | null;
  sshPort: number | null;
  winRmPort: number | null;
  /** Absent for a scan of a host no longer in the inventory. */
  ssh?: SshAccess;
}

/** Who asked for a job: the vendor's createdBy, createdByUserName and createdFromAddress. */
export interface Creator {
  subject: string;
  userName: string;
  address: string | null;
}

/** One host's scan within a job: the vendor's HostScanHost plus its ActionQueue state. */
export interface HostScan {
  id: string;
  jobId: string;
  /** Null once the host was removed from the inventory; the scan record stays. */
  hostId: string | null;
  name: string;
  dnsHostName: string | null;
  ipAddress: string | null;
  os: string | null;
  version: string | null;
  status: ActionStatus;
  statusDescription: string;
  failureReason: ActionFailureReason;
  hostConnected: boolean;
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  createdAt: Date;
  modifiedAt: Date;
}

/** A job and its host scans, in the order the hosts were requested. */
export interface Job {
  id: string;
  /** Creation order, as a decimal string; newer jobs have larger values. */
  seq: string;
  /** Grows by one with every change to the job or its scans. */
  revision: number;
  createdBy: string | null;
  createdByUserName: string | null;
  createdFromAddress: string | null;
  nodeId: string;
  createdAt: Date;
  modifiedAt: Date;
  /** The recurring schedule whose firing made the job; null (or absent) for a job someone asked for. */
  scheduleId?: string | null;
  scans: HostScan[];
}

/** What a job amounts to, derived from its host scans. */
export interface JobState {
  status: ActionStatus;
  statusDescription: string;
}

const JOB_DESCRIPTIONS: Partial<Record<ActionStatus, string>> = {
  [ActionStatus.Queued]: 'Queued.',
  [ActionStatus.Running]: 'Running.',
  [ActionStatus.Complete]: 'Complete.',
  [ActionStatus.Failed]: 'Failed.',
  [ActionStatus.Cancelled]: 'Cancelled.',
  [ActionStatus.CompletedWithErrors]: 'Completed with errors.',
  [ActionStatus.Paused]: 'Paused.',
};

/**
 * Job status from its scans: all queued → Queued; some paused and none queued or running → Paused; any
 * other not terminal → Running; all terminal → Complete, Failed or Cancelled when they agree,
 * CompletedWithErrors when they are mixed.
 */
export function jobState(scans: readonly Pick<HostScan, 'status'>[]): JobState {
  const status = deriveJobStatus(scans.map((s) => s.status));
  return { status, statusDescription: JOB_DESCRIPTIONS[status] ?? `${ActionStatus[status]}.` };
}

function deriveJobStatus(statuses: ActionStatus[]): ActionStatus {
  if (statuses.length === 0) return ActionStatus.Unknown;
  if (statuses.every((s) => s === ActionStatus.Queued)) return ActionStatus.Queued;
  if (statuses.includes(ActionStatus.Paused) && !statuses.some((s) => s === ActionStatus.Queued || s === ActionStatus.Running)) {
    return ActionStatus.Paused;
  }
  if (!statuses.every(isTerminal)) return ActionStatus.Running;
  const first = statuses[0]!;
  if (statuses.every((s) => s === first)) return first;
  return ActionStatus.CompletedWithErrors;
}

/** Whether every scan of the job is terminal. */
export const isJobTerminal = (job: Pick<Job, 'scans'>): boolean =>
  job.scans.length > 0 && job.scans.every((s) => isTerminal(s.status));

/** A schedule call's scans counted by state (complete counts CompletedWithErrors and CompletedNotRun too). */
export interface BatchCounts {
  total: number;
  queued: number;
  running: number;
  paused: number;
  complete: number;
  failed: number;
  cancelled: number;
  createdAt: Date;
  /** Seconds since the batch was made, by the database clock. */
  elapsedSeconds: number;
}

/** A batch's progress: its counts, the share finished and an estimate of the time left. */
export interface BatchProgress extends BatchCounts {
  id: string;
  /** Finished scans (complete, failed or cancelled) per hundred, to one decimal. */
  percent: number;
  /** Unfinished scans at the rate scans finished so far; null before the first finishes or while only paused ones are left. */
  etaSeconds: number | null;
  /** Nothing queued, running or paused is left. */
  finished: boolean;
}
