import { auditEntry, type Caller } from './audit';
import { requireRole, type Principal, type Role } from './auth';
import { resolveCredentialRefs } from './credential-service';
import { badInput, notFound, unavailable, type FieldErrors } from './errors';
import { parseRequests, rowErrors, type HostScanJobResponse } from './host-requests';
import { batchProgress } from './batch';
import { BatchStream } from './batch-stream';
import { JobStream, type JobEventBus } from './events';
import type { JobCache } from './job-cache';
import { ActionStatus, type BatchProgress, type Host, type HostScan, type Job } from './model';
import type { PauseTarget, Store } from './store';
import { hasControlCharacters, hostInputs, idList, intParam, uuidParam } from './validate';

const SCAN_ROLES: readonly Role[] = ['Admin', 'App'];
const HOST_WRITE_ROLES: readonly Role[] = ['Admin'];

export interface ServiceOptions {
  store: Store;
  events: JobEventBus;
  /** Recently read jobs, kept current by the event bus; reads go to the store without it. */
  cache?: JobCache;
  maxHostIds: number;
  /** Shortest gap between two progress messages of one batch watcher. @default 250 */
  batchProgressIntervalMs?: number;
  /** Told about every job the service changed, after the change is committed. */
  onJobsChanged?: (jobs: readonly Job[]) => void;
  /** Asked to abort scans that are running when their job is cancelled. */
  onCancelRunning?: (scanIds: readonly string[]) => void;
  /** Refuses new work with UNAVAILABLE while it returns a reason (shutdown). */
  refusal?: () => string | null;
}

/** What one schedule call made: its batch and its jobs, in request order. */
export interface Scheduled {
  batchId: string;
  jobs: Job[];
}

export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

/**
 * The one place that decides: every operation takes the caller's principal and raw input, checks the
 * role, validates, and talks to the store; every change is written to the audit trail in the store's
 * transaction that makes it. Edges (REST, GraphQL, WebSocket) only translate.
 */
export class HostScanService {
  constructor(private readonly options: ServiceOptions) {}

  private get store() {
    return this.options.store;
  }

  /**
   * One job per distinct host id, in request order; a host with a queued or running job gets that job.
   * Unknown ids: BAD_INPUT naming each, and nothing is scheduled.
   */
  async scheduleHostScans(caller: Caller, input: { hostIds: unknown }): Promise<Job[]> {
    return (await this.scheduleBatch(caller, input)).jobs;
  }

  /** scheduleHostScans with the id of the batch the call made: every job it returned, new or not. */
  async scheduleBatch(caller: Caller, input: { hostIds: unknown }): Promise<Scheduled> {
    requireRole(caller, SCAN_ROLES);
    const { ids, indexes } = idList(input.hostIds, this.options.maxHostIds, 'host');
    return this.schedule(caller, ids, (id) => indexes.get(id)!.map((i) => `$[${i}]`));
  }

  /** One host's scan (`POST …/ByHostId/{hostId}`); the same rules as scheduleHostScans. */
  async scheduleHostScan(caller: Caller, input: { hostId: unknown }): Promise<Job> {
    requireRole(caller, SCAN_ROLES);
    const hostId = uuidParam(input.hostId, 'hostId');
    const { jobs } = await this.schedule(caller, [hostId], () => ['hostId']);
    return jobs[0]!;
  }

  private async schedule(caller: Caller, hostIds: string[], keysOf: (missingId: string) => string[]): Promise<Scheduled> {
    this.refuseWhenDraining();
    const result = await this.store.jobs.schedule(
      hostIds,
      { subject: caller.subject, userName: caller.userName, address: caller.address ?? null },
      auditEntry(caller, 'jobs.schedule', null),
    );
    if (result.missing) {
      const errors: FieldErrors = {};
      for (const id of result.missing) for (const key of keysOf(id)) errors[key] = [`No host has the id '${id}'.`];
      const listed = result.missing.slice(0, 5).join(', ') + (result.missing.length > 5 ? ` and ${result.missing.length - 5} more` : '');
      throw badInput(errors, `Unknown host id${result.missing.length > 1 ? 's' : ''}: ${listed}.`);
    }
    this.options.onJobsChanged?.(result.jobs);
    return { batchId: result.batchId, jobs: result.jobs };
  }

  /** A batch's progress; NOT_FOUND for an id no schedule call returned. */
  async getBatch(principal: Principal, input: { id: unknown }): Promise<BatchProgress> {
    requireRole(principal, SCAN_ROLES);
    const id = uuidParam(input.id, 'batchId');
    const progress = await this.readBatch(id);
    if (!progress) throw notFound(`Unable to find host scan batch ${id}.`);
    return progress;
  }

  /**
   * A batch's progress now, then again whenever its counts changed, at most once per
   * `batchProgressIntervalMs`; ends with the state in which nothing is queued, running or paused.
   */
  async watchBatch(principal: Principal, input: { id: unknown }): Promise<AsyncIterableIterator<BatchProgress>> {
    requireRole(principal, SCAN_ROLES);
    const id = uuidParam(input.id, 'batchId');
    const jobIds = new Set(await this.store.batches.jobIds(id));
    // Listen before reading, so no change between the read and the subscription is lost.
    const stream = new BatchStream(this.options.events, { jobIds, read: () => this.readBatch(id), intervalMs: this.options.batchProgressIntervalMs ?? 250 });
    try {
      const progress = await this.readBatch(id);
      if (!progress) throw notFound(`Unable to find host scan batch ${id}.`);
      stream.offer(progress);
    } catch (err) {
      stream.close();
      throw err;
    }
    return stream;
  }

  private async readBatch(id: string): Promise<BatchProgress | null> {
    const counts = await this.store.batches.counts(id);
    return counts && batchProgress(id, counts);
  }

  async getJob(principal: Principal, input: { id: unknown }): Promise<Job> {
    requireRole(principal, SCAN_ROLES);
    const id = uuidParam(input.id, 'hostScanJobId');
    const [job] = await this.jobsByIds([id]);
    if (!job) throw notFound(`Unable to find host scan job ${id}.`);
    return visibleTo(principal, job);
  }

  /**
   * Newest first. REST pages with `skip`/`take` (take ≤ 1000); GraphQL with `first` (≤ 100) and `after`,
   * a cursor from a previous page.
   */
  async listJobs(
    principal: Principal,
    input: { skip?: unknown; take?: unknown; first?: unknown; after?: unknown; status?: unknown },
  ): Promise<Page<Job>> {
    requireRole(principal, SCAN_ROLES);
    const take = input.first !== undefined
      ? intParam(input.first, 'first', 20, 1, 100)
      : intParam(input.take, 'take', 1000, 1, 1000);
    const skip = intParam(input.skip, 'skip', 0, 0, 1_000_000);
    const status = input.status ?? null;
    if (status !== null && !(typeof status === 'number' && ActionStatus[status] !== undefined)) {
      throw badInput({ status: ['Not an ActionStatus.'] });
    }
    const beforeSeq = input.after == null ? null : decodeCursor(input.after, 'job', /^\d{1,19}$/);
    if (beforeSeq !== null && BigInt(beforeSeq) > MAX_SEQ) throw badInput({ after: ['Not a cursor returned by this API.'] });
    const ids = await this.store.jobs.listIds({ limit: take + 1, offset: skip, beforeSeq, status: status as ActionStatus | null });
    const jobs = await this.jobsByIds(ids);
    return { items: jobs.slice(0, take).map((job) => visibleTo(principal, job)), hasMore: jobs.length > take };
  }

  /** Whether the principal may open a live-status socket at all (a role that may watch jobs). */
  mayWatchJobs(principal: Principal): boolean {
    return SCAN_ROLES.some((role) => principal.roles.has(role));
  }

  /**
   * Live job states. With `jobIds`: each job's current state first, then every change, ending when all
   * are terminal; unknown ids are NOT_FOUND. Without: every change of every job from now on.
   * A reader that falls far behind is cut off (SlowConsumerError) instead of buffering without bound.
   */
  async watchJobs(principal: Principal, input: { jobIds?: unknown }): Promise<AsyncIterableIterator<Job>> {
    requireRole(principal, SCAN_ROLES);
    if (input.jobIds == null) return new JobStream(this.options.events);
    const { ids } = idList(input.jobIds, this.options.maxHostIds, 'job');
    // Listen before reading, so no change between the read and the subscription is lost.
    const stream = new JobStream(this.options.events, { jobIds: new Set(ids), maxPending: ids.length, untilTerminal: true });
    try {
      const current = await this.jobsByIds(ids);
      const known = new Set(current.map((j) => j.id));
      const missing = ids.filter((id) => !known.has(id));
      if (missing.length > 0) throw notFound(`Unable to find host scan job${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}.`);
      for (const job of current) stream.push(job);
    } catch (err) {
      stream.close();
      throw err;
    }
    return stream;
  }

  /** The host's latest job, or NOT_FOUND when the host is unknown or was never scanned. */
  async jobForHost(principal: Principal, input: { hostId: unknown }): Promise<Job> {
    requireRole(principal, SCAN_ROLES);
    const hostId = uuidParam(input.hostId, 'hostId');
    const jobId = await this.store.jobs.latestIdForHost(hostId);
    const [job] = jobId ? await this.jobsByIds([jobId]) : [];
    if (!job) throw notFound(`No host scan job was found for host ${hostId}.`);
    return visibleTo(principal, job);
  }

  /** Queued scans end Cancelled at once; running ones are aborted by the runner. Idempotent. */
  async cancelJob(caller: Caller, input: { id: unknown }): Promise<Job> {
    requireRole(caller, SCAN_ROLES);
    const id = uuidParam(input.id, 'hostScanJobId');
    const result = await this.store.jobs.cancel(id, `Cancelled by ${caller.userName}`, auditEntry(caller, 'job.cancel', id));
    if (!result) throw notFound(`Unable to find host scan job ${id}.`);
    if (result.running.length > 0) this.options.onCancelRunning?.(result.running);
    this.options.onJobsChanged?.([result.job]);
    return result.job;
  }

  /**
   * Pause a job: its queued scans wait Paused (7) and start no new host scan until resumed; a scan that is
   * already running finishes and records its result (a probe is short, and its result is worth keeping).
   * Any scan role, as the vendor lets Admin and App start and stop host scans. Idempotent.
   */
  async pauseJob(caller: Caller, input: { id: unknown }): Promise<Job> {
    return this.pauseOrResumeJob(caller, input, true);
  }

  /** Resume a job: its paused scans are queued again, due now. Idempotent. */
  async resumeJob(caller: Caller, input: { id: unknown }): Promise<Job> {
    return this.pauseOrResumeJob(caller, input, false);
  }

  /** Pause every job of a batch (see pauseJob); jobs it shares with other batches pause there too. */
  async pauseBatch(caller: Caller, input: { id: unknown }): Promise<BatchProgress> {
    return this.pauseOrResumeBatch(caller, input, true);
  }

  async resumeBatch(caller: Caller, input: { id: unknown }): Promise<BatchProgress> {
    return this.pauseOrResumeBatch(caller, input, false);
  }

  private async pauseOrResumeJob(caller: Caller, input: { id: unknown }, pause: boolean): Promise<Job> {
    requireRole(caller, SCAN_ROLES);
    const id = uuidParam(input.id, 'hostScanJobId');
    await this.pauseOrResume(caller, { jobId: id }, pause, () => notFound(`Unable to find host scan job ${id}.`));
    const [job] = await this.jobsByIds([id]);
    return visibleTo(caller, job!);
  }

  private async pauseOrResumeBatch(caller: Caller, input: { id: unknown }, pause: boolean): Promise<BatchProgress> {
    requireRole(caller, SCAN_ROLES);
    const id = uuidParam(input.id, 'batchId');
    const missing = () => notFound(`Unable to find host scan batch ${id}.`);
    await this.pauseOrResume(caller, { batchId: id }, pause, missing);
    const progress = await this.readBatch(id);
    if (!progress) throw missing();
    return progress;
  }

  private async pauseOrResume(caller: Caller, target: PauseTarget, pause: boolean, missing: () => Error): Promise<void> {
    if (!pause) this.refuseWhenDraining();
    const action = `${target.jobId ? 'job' : target.batchId ? 'batch' : 'scan'}.${pause ? 'pause' : 'resume'}`;
    const description = pause ? `Paused by ${caller.userName}` : `Queued (resumed by ${caller.userName})`;
    const transition = pause ? this.store.pausing.pause : this.store.pausing.resume;
    const result = await transition(target, description, auditEntry(caller, action, target.jobId ?? target.batchId ?? target.scanId ?? null));
    if (!result) throw missing();
    this.options.onJobsChanged?.(result.changed);
  }

  /**
   * The vendor's Start of one host scan (`GET …/Host/{hostScanHostId}/Start`): a paused scan is queued
   * again; a queued or running one is left as it is. A finished scan is not run again: schedule its host.
   */
  async startHostScan(caller: Caller, input: { hostScanHostId: unknown }): Promise<{ job: Job; scan: HostScan }> {
    requireRole(caller, SCAN_ROLES);
    const scanId = uuidParam(input.hostScanHostId, 'hostScanHostId');
    const missing = () => notFound(`Unable to find host scan host ${scanId}.`);
    await this.pauseOrResume(caller, { scanId }, false, missing);
    return this.scanWithJob(caller, scanId, missing);
  }

  /**
   * The vendor's Stop of one host scan: a queued or paused scan ends Cancelled at once (recording
   * `hostConnected` when given), a running one is aborted. Idempotent.
   */
  async stopHostScan(caller: Caller, input: { hostScanHostId: unknown; hostConnected?: unknown }): Promise<{ job: Job; scan: HostScan }> {
    requireRole(caller, SCAN_ROLES);
    const scanId = uuidParam(input.hostScanHostId, 'hostScanHostId');
    const hostConnected = input.hostConnected ?? null;
    if (hostConnected !== null && typeof hostConnected !== 'boolean') throw badInput({ hostConnected: ['Expected true or false.'] });
    const missing = () => notFound(`Unable to find host scan host ${scanId}.`);
    const jobId = await this.store.jobs.jobIdOfScan(scanId);
    if (!jobId) throw missing();
    const result = await this.store.jobs.cancel(jobId, `Stopped by ${caller.userName}`, auditEntry(caller, 'scan.stop', scanId), { id: scanId, hostConnected });
    if (!result) throw missing();
    if (result.running.length > 0) this.options.onCancelRunning?.(result.running);
    this.options.onJobsChanged?.([result.job]);
    return this.scanWithJob(caller, scanId, missing);
  }

  /**
   * The vendor's "scan a host now" by managed resource (`POST …/{managedResourceId}`): a managed resource
   * maps here when a host has its id (hosts imported from the vendor keep their ids); else NOT_FOUND.
   */
  async scanManagedResource(caller: Caller, input: { managedResourceId: unknown }): Promise<Job> {
    requireRole(caller, SCAN_ROLES);
    const id = uuidParam(input.managedResourceId, 'managedResourceId');
    if (!(await this.store.hosts.get(id))) throw notFound(`Unable to find resource ${id}.`);
    const { jobs } = await this.schedule(caller, [id], () => ['managedResourceId']);
    return jobs[0]!;
  }

  /**
   * The vendor's ValidateImportedCSV: each request with what is wrong with it, field by field; changes
   * nothing. A value of the wrong type is BAD_INPUT for the whole call.
   */
  async validateRequests(principal: Principal, input: { requests: unknown }): Promise<HostScanJobResponse[]> {
    requireRole(principal, SCAN_ROLES);
    const requests = parseRequests(input.requests, this.options.maxHostIds);
    const known = await this.store.requests.credentialsKnown(requests);
    return requests.map((r, i) => ({ ...r, ...rowErrors(r, known[i]!) }));
  }

  /**
   * The vendor's `POST /api/v1/HostScanJob`: create or update the requested hosts and scan them in one
   * job. Admin only, unlike the vendor's Admin and App: it writes hosts (credentials, key trust), which
   * this gateway reserves for Admin. Any request in error: BAD_INPUT keyed `$[i].field`, nothing written.
   */
  async createJobFromRequests(caller: Caller, input: { requests: unknown }): Promise<{ batchId: string; job: Job }> {
    requireRole(caller, HOST_WRITE_ROLES);
    this.refuseWhenDraining();
    const requests = parseRequests(input.requests, this.options.maxHostIds);
    const errors: FieldErrors = {};
    const known = await this.store.requests.credentialsKnown(requests);
    requests.forEach((r, i) => {
      for (const [key, message] of Object.entries(rowErrors(r, known[i]!))) {
        if (message) errors[`$[${i}].${key.replace(/Error$/, '')}`] = [message];
      }
    });
    if (Object.keys(errors).length > 0) throw badInput(errors);
    const creator = { subject: caller.subject, userName: caller.userName, address: caller.address ?? null };
    const result = await this.store.requests.createJob(requests, creator, auditEntry(caller, 'jobs.create', null));
    if (result.unknownCredentials) {
      throw badInput(Object.fromEntries(result.unknownCredentials.map((i) => [`$[${i}].credentialName`, ['The credential no longer exists.']])));
    }
    this.options.onJobsChanged?.([result.job]);
    return { batchId: result.batchId, job: result.job };
  }

  private async scanWithJob(principal: Principal, scanId: string, missing: () => Error): Promise<{ job: Job; scan: HostScan }> {
    const jobId = await this.store.jobs.jobIdOfScan(scanId);
    const [job] = jobId ? await this.store.jobs.getJobs([jobId]) : [];
    const scan = job?.scans.find((s) => s.id === scanId);
    if (!job || !scan) throw missing();
    return { job: visibleTo(principal, job), scan };
  }

  async listHosts(principal: Principal, input: { first?: unknown; after?: unknown; search?: unknown }): Promise<Page<Host>> {
    requireRole(principal, SCAN_ROLES);
    const first = intParam(input.first, 'first', 50, 1, 1000);
    const search = input.search ?? null;
    if (search !== null && (typeof search !== 'string' || search.length > 255 || hasControlCharacters(search))) {
      throw badInput({ search: ['Expected text of at most 255 characters without control characters.'] });
    }
    let after: { name: string; id: string } | null = null;
    if (input.after != null) {
      const raw = decodeCursor(input.after, 'host', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[^\u0000]*$/s);
      after = { id: raw.slice(0, 36), name: raw.slice(37) };
    }
    const hosts = await this.store.hosts.list({ limit: first + 1, after, search: search || null });
    return { items: hosts.slice(0, first), hasMore: hosts.length > first };
  }

  async getHost(principal: Principal, input: { id: unknown }): Promise<Host> {
    requireRole(principal, SCAN_ROLES);
    const id = uuidParam(input.id, 'hostId');
    const host = await this.store.hosts.get(id);
    if (!host) throw notFound(`No host has the id ${id}.`);
    return host;
  }

  /** Admin only. By id when given, else by name; all or nothing. */
  async upsertHosts(caller: Caller, input: { hosts: unknown }): Promise<Host[]> {
    requireRole(caller, HOST_WRITE_ROLES);
    const hosts = await resolveCredentialRefs(this.store, hostInputs(input.hosts, this.options.maxHostIds));
    const result = await this.store.hosts.upsert(hosts, auditEntry(caller, 'hosts.upsert', null));
    if (result.conflicts) {
      throw badInput(Object.fromEntries([...result.conflicts].map(([i, message]) => [`$[${i}].name`, [message]])));
    }
    return result.hosts;
  }

  /** Admin only. Past scans of the host are kept. */
  async removeHost(caller: Caller, input: { id: unknown }): Promise<boolean> {
    requireRole(caller, HOST_WRITE_ROLES);
    const id = uuidParam(input.id, 'hostId');
    if (!(await this.store.hosts.remove(id, auditEntry(caller, 'host.remove', id)))) throw notFound(`No host has the id ${id}.`);
    // The host's past scans now have no host id, a change that is not published as a job event.
    this.options.cache?.clear();
    return true;
  }

  /** Jobs by id, from the cache where it has them; unknown ids are left out. */
  private async jobsByIds(ids: readonly string[]): Promise<Job[]> {
    const cache = this.options.cache;
    const cached = new Map<string, Job>();
    for (const id of ids) {
      const job = cache?.get(id);
      if (job) cached.set(id, job);
    }
    const missing = ids.filter((id) => !cached.has(id));
    if (missing.length > 0) {
      for (const job of await this.store.jobs.getJobs(missing)) {
        cache?.put(job);
        cached.set(job.id, job);
      }
    }
    return ids.map((id) => cached.get(id)).filter((j): j is Job => j !== undefined);
  }

  private refuseWhenDraining(): void {
    const reason = this.options.refusal?.();
    if (reason) throw unavailable(reason);
  }
}

// Jobs are shared, immutable states; a caller that may not see the address gets one copy per state.
const redacted = new WeakMap<Job, Job>();

/**
 * What a principal may see of a job. Any scan role reads and cancels every job (the vendor scopes
 * nothing by owner, and automation cancels what people scheduled); the address a job was requested
 * from is the Admin's to see, as it tells where people and scripts work from.
 */
function visibleTo(principal: Principal, job: Job): Job {
  if (job.createdFromAddress === null || principal.roles.has('Admin')) return job;
  let copy = redacted.get(job);
  if (!copy) redacted.set(job, (copy = { ...job, createdFromAddress: null }));
  return copy;
}

// Job sequence numbers are PostgreSQL bigints.
const MAX_SEQ = 9_223_372_036_854_775_807n;

/** Opaque page cursors: base64url of `kind:value`. */
export const jobCursor = (job: Job): string => Buffer.from(`job:${job.seq}`).toString('base64url');
export const hostCursor = (host: Host): string => Buffer.from(`host:${host.id}:${host.name}`).toString('base64url');

/** The value of a cursor of `kind` whose value has `shape`; BAD_INPUT for anything else. */
export function decodeCursor(cursor: unknown, kind: string, shape: RegExp): string {
  const text = typeof cursor === 'string' && cursor.length <= 1024 ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const value = text.startsWith(`${kind}:`) ? text.slice(kind.length + 1) : '';
  if (!shape.test(value)) throw badInput({ after: ['Not a cursor returned by this API.'] });
  return value;
}
