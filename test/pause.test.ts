import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql, wsClient } from './support/graphql';
import { call } from './support/http';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { adminToken, appToken, token } from './support/tokens';

const COUNTS = 'total queued running paused complete failed cancelled';

let t: TestGateway;
let ssh: TestListener;
let closed: number;
beforeAll(async () => {
  // Two scans at a time, each held 300 ms by the SSH banner: a batch of 16 takes a few seconds.
  t = await startTestGateway({ SCAN_CONCURRENCY: '2', BATCH_PROGRESS_INTERVAL_MS: '50' });
  ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 300 });
  closed = await closedPort();
});
afterAll(async () => {
  await t.stop();
  await ssh.close();
});

const newHosts = async (n: number) =>
  (await t.gateway.service.upsertHosts(ADMIN, {
    hosts: Array.from({ length: n }, () => ({ name: `p-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed })),
  })).map((h) => h.id);
const scheduleBatch = async (hostIds: string[]) => {
  const res = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: hostIds });
  return { batchId: res.headers.get('x-hostscan-batch-id')!, jobIds: (res.json as { id: string }[]).map((j) => j.id) };
};
const mutate = (name: string, id: string, fields: string, bearer = adminToken()) =>
  gql(t.url, bearer, `mutation($id: ID!) { ${name}(id: $id) { ${fields} } }`, { id });

/** Every message of a subscription, and a way to wait for one that passes a test. */
function watch(query: string, variables: Record<string, unknown>) {
  const client = wsClient(t.url, { Authorization: `Bearer ${appToken()}` });
  const seen: any[] = [];
  const waiters: { test: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  let resolveDone: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  client.subscribe({ query, variables }, {
    next: (r: any) => {
      const m = Object.values(r.data)[0];
      seen.push(m);
      for (const w of waiters.splice(0)) (w.test(m) ? w.resolve(m) : waiters.push(w));
    },
    error: (err) => {
      throw err;
    },
    complete: () => resolveDone(),
  });
  return {
    seen,
    done,
    until: (test: (m: any) => boolean) => {
      const hit = seen.find(test);
      return hit ? Promise.resolve(hit) : new Promise<any>((resolve) => waiters.push({ test, resolve }));
    },
    close: () => client.dispose(),
  };
}

describe('pause and resume a batch under load, with subscriptions open', () => {
  it('starts no new scan while paused, lets running ones finish and record, and resumes to the end', { timeout: 120_000 }, async () => {
    const jobsWatch = watch('subscription { hostScanJobStatus { id status } }', {});
    const { batchId, jobIds } = await scheduleBatch(await newHosts(16));
    const progress = watch(`subscription($id: ID!) { hostScanBatchProgress(id: $id) { ${COUNTS} } }`, { id: batchId });
    await progress.until((p) => p.complete >= 2);

    const paused = (await mutate('pauseHostScanBatch', batchId, COUNTS)).body.data.pauseHostScanBatch;
    expect(paused.queued).toBe(0);
    expect(paused.paused).toBeGreaterThan(0);
    // The scans running at the pause finish and record their results; none starts after it.
    const settled = await progress.until((p) => p.running === 0 && p.paused > 0);
    expect(settled).toEqual({ ...paused, running: 0, complete: paused.complete + paused.running });

    // The runner is not stuck: another host's scan runs to the end while the batch stays paused.
    const [other] = (await scheduleBatch(await newHosts(1))).jobIds;
    await jobsWatch.until((j) => j.id === other && j.status === 'Complete');
    expect((await gql(t.url, appToken(), `query($id: ID!) { hostScanBatch(id: $id) { ${COUNTS} } }`, { id: batchId })).body.data.hostScanBatch).toEqual(settled);
    const pausedJobs = new Set(jobsWatch.seen.filter((j) => j.status === 'Paused').map((j) => j.id));
    expect(pausedJobs.size).toBe(paused.paused);
    for (const id of pausedJobs) expect(jobIds).toContain(id);

    const resumed = (await mutate('resumeHostScanBatch', batchId, COUNTS)).body.data.resumeHostScanBatch;
    expect(resumed.paused).toBe(0);
    await progress.done;
    expect(progress.seen.at(-1)).toEqual({ total: 16, queued: 0, running: 0, paused: 0, complete: 16, failed: 0, cancelled: 0 });
    // Each paused job was seen Paused, then (a slow reader may miss states between) complete.
    for (const id of pausedJobs) {
      const states = jobsWatch.seen.filter((j) => j.id === id).map((j) => j.status);
      expect(states.indexOf('Paused')).toBeGreaterThanOrEqual(0);
      expect(states.at(-1)).toBe('Complete');
    }
    await jobsWatch.close();
    await progress.close();
  });
});

describe('pause and resume one job', () => {
  it('App may pause and resume (as the vendor lets App start and stop scans); a paused host keeps its job', async () => {
    const gw = await startTestGateway({}, { runner: false });
    try {
      const [host] = await gw.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: `q-${randomUUID()}`, ipAddress: '127.0.0.1' }] });
      const [job] = await gw.gateway.service.scheduleHostScans({ ...ADMIN, address: '127.0.0.1' }, { hostIds: [host!.id] });
      const run = (name: string, bearer = appToken()) => gql(gw.url, bearer, `mutation($id: ID!) { ${name}(id: $id) { id status statusDescription } }`, { id: job!.id });
      expect((await run('pauseHostScanJob')).body.data.pauseHostScanJob).toMatchObject({ status: 'Paused', statusDescription: 'Paused.' });
      const again = await call(`${gw.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: [host!.id] });
      expect(again.json[0]).toMatchObject({ id: job!.id, status: 7 });
      expect((await run('resumeHostScanJob')).body.data.resumeHostScanJob).toMatchObject({ status: 'Queued' });
      const audit = await gw.gateway.store.audit.list({ limit: 5 });
      expect(audit.map((r) => r.action)).toEqual(expect.arrayContaining(['job.pause', 'job.resume']));

      expect((await run('pauseHostScanJob', token({ roles: ['Auditor'] }))).body.errors[0].extensions.code).toBe('FORBIDDEN');
      const unknown = await gql(gw.url, appToken(), 'mutation($id: ID!) { pauseHostScanJob(id: $id) { id } }', { id: randomUUID() });
      expect(unknown.body.errors[0].extensions.code).toBe('NOT_FOUND');
      const bad = await gql(gw.url, appToken(), 'mutation { resumeHostScanBatch(id: "x") { id } }');
      expect(bad.body.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { batchId: expect.any(Array) } });
    } finally {
      await gw.stop();
    }
  });
});
