import pg from 'pg';
import { expect } from 'vitest';
import type { ChildGateway } from './child';
import { wsClient } from './graphql';
import { call } from './http';
import { closedPort, silentListener, type TestListener } from './listeners';
import { adminToken, appToken } from './tokens';

const token = adminToken();

/** Silent SSH hosts: their scans stay Running (on whichever instance leased them) until cancelled. */
export async function silentHosts(gateway: ChildGateway, n: number, prefix: string) {
  const closed = await closedPort();
  const listeners: TestListener[] = await Promise.all(Array.from({ length: n }, () => silentListener()));
  const upsert = await call(`${gateway.url}/graphql`, {
    token,
    body: {
      query: 'mutation($hosts: [HostInput!]!) { upsertHosts(hosts: $hosts) { id } }',
      variables: { hosts: listeners.map((l, i) => ({ name: `${prefix}-${i}`, ipAddress: '127.0.0.1', sshPort: l.port, winRmPort: closed })) },
    },
  });
  if (!upsert.json?.data) throw new Error(`upsertHosts failed: ${upsert.text}`);
  return {
    ids: upsert.json.data.upsertHosts.map((h: { id: string }) => h.id) as string[],
    close: () => Promise.all(listeners.map((l) => l.close())),
  };
}

/** A subscription on `gateway` to `jobIds`, remembering when each job's state arrived. */
export function watchJobs(gateway: ChildGateway, jobIds: string[]) {
  const client = wsClient(gateway.url, { token: appToken() });
  const seen = new Map<string, { status: string; at: number }[]>();
  const done = new Promise<void>((resolve, reject) => {
    client.subscribe({ query: 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status } }', variables: { ids: jobIds } }, {
      next: (r: any) => {
        const { id, status } = r.data.hostScanJobStatus;
        seen.set(id, [...(seen.get(id) ?? []), { status, at: Date.now() }]);
      },
      error: reject,
      complete: () => resolve(),
    });
  });
  return {
    seen,
    done,
    /** `done`, or after `ms` an error naming the jobs still open and the last state seen of each. */
    settled(ms: number, what: string) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const open = jobIds.map((id) => `${id}: ${seen.get(id)?.map((s) => s.status).join(' > ') ?? 'nothing'}`);
          reject(new Error(`${what}: the subscription on ${gateway.url} did not complete within ${ms} ms; seen:\n${open.join('\n')}`));
        }, ms);
      });
      return Promise.race([done, late]).finally(() => clearTimeout(timer));
    },
    /** When `status` of `jobId` first arrived, or null. */
    arrived: (jobId: string, status: string) => seen.get(jobId)?.find((s) => s.status === status)?.at ?? null,
    dispose: () => client.dispose(),
  };
}

/**
 * Schedule `hostIds` on A and wait until every scan runs, at least one of them leased by A. Then cancel
 * every job on A: those A runs end at once, by A, so their Cancelled state reaches B only across
 * instances. Resolves with the jobs A ran and when their cancel was asked.
 */
export async function cancelOnA(a: ChildGateway, b: ChildGateway, databaseUrl: string, hostIds: string[]) {
  const scheduled = await call(`${a.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: hostIds });
  if (scheduled.status !== 200) throw new Error(`schedule failed: ${scheduled.status} ${scheduled.text}`);
  const jobIds: string[] = scheduled.json.map((j: { id: string }) => j.id);
  const watch = watchJobs(b, jobIds);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    let ranByA: string[] = [];
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { rows } = await db.query<{ job_id: string; lease_owner: string | null }>(
        'SELECT job_id, lease_owner FROM host_scans WHERE job_id = ANY($1::uuid[]) AND status = 1',
        [jobIds],
      );
      ranByA = rows.filter((r) => r.lease_owner?.startsWith(`${a.child.pid}-`)).map((r) => r.job_id);
      if (rows.length === jobIds.length && ranByA.length > 0) break;
      if (Date.now() > deadline) throw new Error(`scans did not all run, A leasing some, within 20 s: ${JSON.stringify(rows)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const askedAt = Date.now();
    for (const id of jobIds) {
      const res = await call(`${a.url}/api/v1/HostScanJob/${id}`, { method: 'DELETE', token });
      if (res.status !== 202) throw new Error(`cancel failed: ${res.status} ${res.text}`);
    }
    return { jobIds, ranByA, askedAt, watch };
  } catch (err) {
    await watch.dispose();
    throw err;
  } finally {
    await db.end();
  }
}

/**
 * Cancel on A jobs that run on both (see cancelOnA): every job B watches ends Cancelled, and those A ran,
 * which only A could announce, arrive within `withinMs` of the cancel.
 */
export async function cancelReachesB(a: ChildGateway, b: ChildGateway, databaseUrl: string, prefix: string, withinMs: number) {
  const hosts = await silentHosts(a, 4, prefix);
  let watch: ReturnType<typeof watchJobs> | null = null;
  try {
    const cancelled = await cancelOnA(a, b, databaseUrl, hosts.ids);
    watch = cancelled.watch;
    await watch.settled(30_000, 'every job Cancelled');
    for (const id of cancelled.jobIds) expect(watch.seen.get(id)?.at(-1)?.status).toBe('Cancelled');
    for (const id of cancelled.ranByA) expect(watch.arrived(id, 'Cancelled')! - cancelled.askedAt).toBeLessThan(withinMs);
  } finally {
    await watch?.dispose();
    await hosts.close();
  }
}

/** Readiness and the deaf-listener gauge of a gateway. */
export async function eventHealth(gateway: ChildGateway) {
  const ready = await call(`${gateway.url}/health/ready`);
  const metrics = await call(`${gateway.url}/metrics`);
  const deaf = /^job_events_deaf (\d+)/m.exec(metrics.text)?.[1];
  return { status: ready.status, body: ready.json as { status: string; reason?: string }, deaf: deaf === undefined ? null : Number(deaf) };
}

/**
 * Read a gateway's event health until `ok` holds, for at most `ms`. Readiness and the gauge are two requests
 * and the state may change between them: `ok` should ask both for what it waits for.
 */
export async function untilHealth(g: ChildGateway, ok: (h: Awaited<ReturnType<typeof eventHealth>>) => boolean, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const health = await eventHealth(g);
    if (ok(health)) return health;
    expect(Date.now(), JSON.stringify(health)).toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 200));
  }
}
