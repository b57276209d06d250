import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { call } from './support/http';
import { adminToken, appToken, token } from './support/tokens';
import { countJobs } from './support/sql';

// The vendor's remaining HostScanJob routes, shapes as their reference pages give them.

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({}, { runner: false });
});
afterAll(() => t.stop());

const rest = (path: string, init: Parameters<typeof call>[1] = {}) => call(`${t.url}/api/v1/HostScanJob${path}`, { token: appToken(), ...init });
const newHost = async () => (await t.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: `v-${randomUUID()}`, ipAddress: '127.0.0.1' }] }))[0]!;
const scheduled = async () => {
  const host = await newHost();
  const [job] = (await rest('/ByHostIdMultiple', { body: [host.id] })).json;
  return { host, jobId: job.id as string, scanId: job.hostScanHostStatus[0].hostScanHostId as string };
};
const scanState = async (jobId: string) =>
  (await gql(t.url, adminToken(), 'query($id: ID!) { hostScanJob(id: $id) { status hostScanHostStatus { status statusDescription hostConnected } } }', { id: jobId })).body.data.hostScanJob;

describe('POST /api/v1/HostScanJob/{managedResourceId}', () => {
  it('scans the host that has the managed resource id, answering a HostScanJobStatus', async () => {
    const host = await newHost();
    const res = await rest(`/${host.id}`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(['hostScanHostStatus', 'id', 'status', 'statusDescription']);
    expect(res.json.hostScanHostStatus[0]).toMatchObject({ hostId: host.id, status: 0 });
  });

  it('answers 404 where no host maps, and 400 for a malformed id, scheduling nothing', async () => {
    const before = await countJobs(t.gateway.store);
    const missing = await rest(`/${randomUUID()}`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ status: 404, detail: expect.stringMatching(/Unable to find resource/) });
    expect((await rest('/not-a-uuid', { method: 'POST' })).status).toBe(400);
    expect(await countJobs(t.gateway.store)).toBe(before);
  });
});

describe('GET /api/v1/HostScanJob/Host/{hostScanHostId}/Start and /Stop', () => {
  it('Start queues a paused host scan again and answers its HostScanHost', async () => {
    const { jobId, scanId, host } = await scheduled();
    await gql(t.url, adminToken(), 'mutation($id: ID!) { pauseHostScanJob(id: $id) { id } }', { id: jobId });
    expect((await scanState(jobId)).status).toBe('Paused');
    const res = await rest(`/Host/${scanId}/Start`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: scanId, hostId: host.id, name: host.name, hostConnected: false, hostScanUser: [] });
    expect((await scanState(jobId)).status).toBe('Queued');
    expect((await rest(`/Host/${scanId}/Start`)).status).toBe(200);
    expect((await scanState(jobId)).status).toBe('Queued');
  });

  it('Stop ends a queued host scan Cancelled, recording hostConnected; idempotent; Start does not run it again', async () => {
    const { jobId, scanId } = await scheduled();
    const res = await rest(`/Host/${scanId}/Stop?hostConnected=true`);
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe('');
    expect(await scanState(jobId)).toEqual({ status: 'Cancelled', hostScanHostStatus: [{ status: 'Cancelled', statusDescription: 'Stopped by app-1', hostConnected: true }] });
    expect((await rest(`/Host/${scanId}/Stop`)).status).toBe(200);
    expect((await rest(`/Host/${scanId}/Start`)).status).toBe(200);
    expect((await scanState(jobId)).status).toBe('Cancelled');
    const audit = await t.gateway.store.audit.list({ limit: 10, action: 'scan.stop' });
    expect(audit[0]).toMatchObject({ target: scanId, subject: 'app-1' });
  });

  it('answers 404 for an unknown host scan, 400 for a bad id or flag, 403 without a scan role', async () => {
    expect((await rest(`/Host/${randomUUID()}/Start`)).status).toBe(404);
    expect((await rest(`/Host/${randomUUID()}/Stop`)).status).toBe(404);
    expect((await rest('/Host/nope/Stop')).status).toBe(400);
    const { scanId, jobId } = await scheduled();
    expect((await rest(`/Host/${scanId}/Stop?hostConnected=perhaps`)).status).toBe(400);
    expect((await rest(`/Host/${scanId}/Stop`, { token: token({ roles: ['Auditor'] }) })).status).toBe(403);
    expect((await scanState(jobId)).status).toBe('Queued');
  });
});
