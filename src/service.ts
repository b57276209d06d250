import { auditEntry, type Caller } from './audit';
import { requireRole, type Principal, type Role } from './auth';
import { badInput, notFound, unavailable, type FieldErrors } from './errors';
import { JobStream, type JobEventBus } from './events';
import type { JobCache } from './job-cache';
import { ActionStatus, type Host, type Job } from './model';
import type { Store } from './store';
import { hasControlCharacters, hostInputs, idList, intParam, uuidParam } from './validate';

const SCAN_ROLES: readonly Role[] = ['Admin', 'App'];
const HOST_WRITE_ROLES: readonly Role[] = ['Admin'];

export interface ServiceOptions {
  store: Store;
  events: JobEventBus;
  /** Recently read jobs, kept current by the event bus; reads go to the store without it. */
  cache?: JobCache;
  maxHostIds: number;
  /** Told about every job the service changed, after the change is committed. */
  onJobsChanged?: (jobs: readonly Job[]) => void;
  /** Asked to abort scans that are running when their job is cancelled. */
  onCancelRunning?: (scanIds: readonly string[]) => void;
  /** Refuses new work with UNAVAILABLE while it returns a reason (shutdown). */
  refusal?: () => string | null;
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
    requireRole(caller, SCAN_ROLES);
    const { ids, indexes } = idList(input.hostIds, this.options.maxHostIds, 'host');
    return this.schedule(caller, ids, (id) => indexes.get(id)!.map((i) => `$[${i}]`));
  }

  /** One host's scan (`POST …/ByHostId/{hostId}`); the same rules as scheduleHostScans. */
  async scheduleHostScan(caller: Caller, input: { hostId: unknown }): Promise<Job> {
    requireRole(caller, SCAN_ROLES);
    const hostId = uuidParam(input.hostId, 'hostId');
    const [job] = await this.schedule(caller, [hostId], () => ['hostId']);
    return job!;
  }

  private async schedule(caller: Caller, hostIds: string[], keysOf: (missingId: string) => string[]): Promise<Job[]> {
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
    return result.jobs;
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
    const result = await this.store.hosts.upsert(hostInputs(input.hosts, this.options.maxHostIds), auditEntry(caller, 'hosts.upsert', null));
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
