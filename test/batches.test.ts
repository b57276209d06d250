import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionStatus } from '../src/model';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { collect, gql, wsClient } from './support/graphql';
import { call } from './support/http';
import { closedPort } from './support/listeners';
import { adminToken, appToken } from './support/tokens';

const BATCH = 'query($id: ID!) { hostScanBatch(id: $id) { id total queued running paused complete failed cancelled percent etaSeconds } }';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('batches without a runner: counts of what each call returned', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({}, { runner: false });
  });
  afterAll(() => t.stop());

  const newHosts = (n: number) =>
    t.gateway.service.upsertHosts(ADMIN, { hosts: Array.from({ length: n }, () => ({ name: `b-${randomUUID()}`, ipAddress: '127.0.0.1' })) });

  it('ByHostIdMultiple names its batch in a header and leaves the vendor body as it was', async () => {
    const [a, b] = await newHosts(2);
    const res = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: appToken(), body: [a!.id, b!.id] });
    expect(res.status).toBe(200);
    const batchId = res.headers.get('x-hostscan-batch-id');
    expect(batchId).toMatch(UUID);
    expect(Object.keys(res.json[0]).sort()).toEqual(['hostScanHostStatus', 'id', 'status', 'statusDescription']);
    const batch = await gql(t.url, appToken(), BATCH, { id: batchId });
    expect(batch.body.data.hostScanBatch).toEqual({ id: batchId, total: 2, queued: 2, running: 0, paused: 0, complete: 0, failed: 0, cancelled: 0, percent: 0, etaSeconds: null });
  });

  it('scheduleHostScans gives every job the batch id; a host already queued brings its job into the new batch', async () => {
    const [a, b] = await newHosts(2);
    const first = await gql(t.url, adminToken(), 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id batchId } }', { ids: [a!.id] });
    const second = await gql(t.url, adminToken(), 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id batchId } }', { ids: [a!.id, b!.id] });
    const [[x], [y, z]] = [first.body.data.scheduleHostScans, second.body.data.scheduleHostScans];
    expect(y.id).toBe(x.id);
    expect(y.batchId).toBe(z.batchId);
    expect(y.batchId).not.toBe(x.batchId);
    const cancelled = await gql(t.url, adminToken(), 'mutation($id: ID!) { cancelHostScanJob(id: $id) { status batchId } }', { id: z.id });
    expect(cancelled.body.data.cancelHostScanJob).toEqual({ status: 'Cancelled', batchId: null });
    const batch = (await gql(t.url, adminToken(), BATCH, { id: y.batchId })).body.data.hostScanBatch;
    expect(batch).toMatchObject({ total: 2, queued: 1, cancelled: 1, percent: 50 });
  });

  it('answers NOT_FOUND for an unknown batch and BAD_INPUT for a malformed id', async () => {
    const unknown = await gql(t.url, adminToken(), BATCH, { id: randomUUID() });
    expect(unknown.body.errors[0].extensions.code).toBe('NOT_FOUND');
    const bad = await gql(t.url, adminToken(), BATCH, { id: 'nope' });
    expect(bad.body.errors[0].extensions.code).toBe('BAD_INPUT');
    expect(bad.body.errors[0].extensions.errors).toHaveProperty('batchId');
  });

  it('refuses a token without a scan role', async () => {
    const res = await gql(t.url, adminToken({ roles: ['Auditor'] }), BATCH, { id: randomUUID() });
    expect(res.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('a 10,000-host batch watched live', () => {
  const INTERVAL_MS = 250;
  const HOSTS = 10_000;
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ MAX_HOST_IDS: String(HOSTS), BATCH_PROGRESS_INTERVAL_MS: String(INTERVAL_MS), SCAN_CONCURRENCY: '64' }, { runner: false });
  });
  afterAll(() => t.stop());

  it('sends a few coalesced messages a second, and ends with the counts the jobs show', { timeout: 300_000 }, async () => {
    const closed = await closedPort();
    const hosts = await t.gateway.service.upsertHosts(ADMIN, {
      hosts: Array.from({ length: HOSTS }, (_, i) => ({ name: `big-${i}-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: closed, winRmPort: closed })),
    });
    const scheduled = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: hosts.map((h) => h.id) });
    expect(scheduled.status).toBe(200);
    const batchId = scheduled.headers.get('x-hostscan-batch-id')!;

    const client = wsClient(t.url, { Authorization: `Bearer ${appToken()}` });
    const began = Date.now();
    const watch = collect(client, 'subscription($id: ID!) { hostScanBatchProgress(id: $id) { total queued running complete failed cancelled percent etaSeconds } }', { id: batchId });
    t.gateway.runner.start();
    const results = await watch.done;
    const elapsedMs = Date.now() - began;
    await client.dispose();

    const states = results.map((r) => r.data!.hostScanBatchProgress);
    expect(states[0]).toMatchObject({ total: HOSTS });
    // Coalesced: one message per interval at most (and the first), never one per job change (30,000 here).
    expect(states.length).toBeLessThanOrEqual(2 + Math.ceil(elapsedMs / INTERVAL_MS));
    for (const [i, s] of states.entries()) {
      expect(s.queued + s.running + s.complete + s.failed + s.cancelled).toBe(HOSTS);
      if (i > 0) expect(s.complete + s.failed + s.cancelled).toBeGreaterThanOrEqual(states[i - 1].complete + states[i - 1].failed + states[i - 1].cancelled);
    }
    // The last state against counted reality: the jobs in the store (this gateway holds no others).
    const byStatus = await t.gateway.store.jobs.countByStatus();
    const last = states.at(-1);
    expect(last).toMatchObject({ total: HOSTS, queued: 0, running: 0, percent: 100, etaSeconds: 0 });
    expect(last.failed).toBe(byStatus.get(ActionStatus.Failed) ?? 0);
    expect(last.complete).toBe((byStatus.get(ActionStatus.Complete) ?? 0) + (byStatus.get(ActionStatus.CompletedWithErrors) ?? 0));
    expect(last.failed + last.complete).toBe(HOSTS);
  });
});
