import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { call } from './support/http';
import { adminToken, appToken, token } from './support/tokens';
import { countJobs } from './support/sql';
import { closedPort } from './support/listeners';
import { waitForJob } from './support/jobs';

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

describe('POST /api/v1/HostScanJob/ValidateImportedCSV', () => {
  const ERRORS = ['credentialNameError', 'dnsHostNameError', 'ipAddressError', 'platformNameError'];

  it('answers each request with its per-field errors and changes nothing', async () => {
    const [hostsBefore, jobsBefore] = [(await t.gateway.store.hosts.list({ limit: 100_000 })).length, await countJobs(t.gateway.store)];
    const res = await rest('/ValidateImportedCSV', {
      body: [
        { dnsHostName: 'good.test.local', ipAddress: '127.0.0.1', os: 'Linux', platformName: 'Linux', sshPort: 22 },
        { dnsHostName: 'bad ip.test', ipAddress: '300.1.2.3' },
        { os: 'Windows' },
        { ipAddress: '127.0.0.2', credentialName: 'no-such-credential', platformName: 'Amiga' },
      ],
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json[0]).sort()).toEqual([
      'acceptThumbprintOnFirstDiscovery', 'certificateType', 'credentialId', 'credentialName', 'dnsHostName', 'ipAddress', 'os', 'platformName',
      'source', 'sshPort', 'sshTrustActionType', 'trustedThumbprint', ...ERRORS,
    ].sort());
    const errorsOf = (row: any) => Object.fromEntries(ERRORS.filter((k) => row[k] !== null).map((k) => [k, row[k]]));
    expect(res.json.map(errorsOf)).toEqual([
      {},
      { dnsHostNameError: "'bad ip.test' is not a DNS host name.", ipAddressError: "'300.1.2.3' is not an IP address." },
      { dnsHostNameError: 'A DNS host name or an IP address is required.' },
      { credentialNameError: "No credential has the name 'no-such-credential'.", platformNameError: "Unknown platform 'Amiga'; expected Linux or Windows." },
    ]);
    expect(res.json[0]).toMatchObject({ dnsHostName: 'good.test.local', sshPort: 22, credentialId: null });
    expect((await t.gateway.store.hosts.list({ limit: 100_000 })).length).toBe(hostsBefore);
    expect(await countJobs(t.gateway.store)).toBe(jobsBefore);
  });

  it('refuses values of the wrong type for the whole call, naming each', async () => {
    const res = await rest('/ValidateImportedCSV', { body: [{ ipAddress: '127.0.0.1', sshPort: 'twenty-two' }, 7] });
    expect(res.status).toBe(400);
    expect(Object.keys(res.json.errors).sort()).toEqual(['$[0].sshPort', '$[1]']);
  });
});

describe('POST /api/v1/HostScanJob', () => {
  it('creates or updates the hosts by name and scans them in one job, answering its HostScanJobStatus', async () => {
    const existing = (await t.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: `known-${randomUUID()}.test.local`, ipAddress: '127.0.0.3' }] }))[0]!;
    const fresh = `new-${randomUUID()}.test.local`;
    const res = await rest('', {
      token: adminToken(),
      body: [
        { dnsHostName: fresh, ipAddress: '127.0.0.4', os: 'Linux', sshPort: 2222, sshTrustActionType: 1, acceptThumbprintOnFirstDiscovery: false },
        { dnsHostName: existing.name.toUpperCase(), os: 'Windows', sshPort: 2200 },
      ],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('x-hostscan-batch-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(res.json).sort()).toEqual(['hostScanHostStatus', 'id', 'status', 'statusDescription']);
    expect(res.json.status).toBe(0);
    expect(res.json.hostScanHostStatus.map((s: any) => s.name.toLowerCase())).toEqual([fresh, existing.name.toLowerCase()]);
    const updated = await t.gateway.service.getHost(ADMIN, { id: existing.id });
    expect(updated).toMatchObject({ ipAddress: '127.0.0.3', sshPort: 2200, os: 'Windows' });
    const created = await t.gateway.service.getHost(ADMIN, { id: res.json.hostScanHostStatus[0].hostId });
    expect(created).toMatchObject({ name: fresh, ipAddress: '127.0.0.4', sshPort: 2222, os: 'Linux' });
    const batch = await gql(t.url, adminToken(), 'query($id: ID!) { hostScanBatch(id: $id) { total queued } }', { id: res.headers.get('x-hostscan-batch-id') });
    expect(batch.body.data.hostScanBatch).toEqual({ total: 2, queued: 2 });

    // The same hosts again, both still queued: the job that has them.
    const again = await rest('', { token: adminToken(), body: [{ dnsHostName: fresh }] });
    expect(again.json.id).toBe(res.json.id);
  });

  it('writes nothing while any request is in error, and is for Admin only', async () => {
    const name = `nope-${randomUUID()}.test.local`;
    const jobsBefore = await countJobs(t.gateway.store);
    const bad = await rest('', { token: adminToken(), body: [{ dnsHostName: name }, { ipAddress: '999.0.0.1' }] });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual({ '$[1].ipAddress': ["'999.0.0.1' is not an IP address."] });
    const app = await rest('', { body: [{ dnsHostName: name }] });
    expect(app.status).toBe(403);
    expect(await countJobs(t.gateway.store)).toBe(jobsBefore);
    expect((await t.gateway.service.listHosts(ADMIN, { search: name })).items).toEqual([]);
  });
});

describe('a job of several hosts, run by the runner', () => {
  it('runs every host scan of a POST /api/v1/HostScanJob job to the end, its status agreeing with its scans', { timeout: 60_000 }, async () => {
    const gw = await startTestGateway();
    try {
      const closed = await closedPort();
      const body = [1, 2, 3].map(() => ({ dnsHostName: `run-${randomUUID()}.test.local`, ipAddress: '127.0.0.1', sshPort: closed }));
      const res = await call(`${gw.url}/api/v1/HostScanJob`, { token: adminToken(), body });
      expect(res.status).toBe(200);
      const entity = await waitForJob(gw.url, res.json.id, adminToken());
      expect(entity.hostScanJobHostJoin).toHaveLength(3);
      const listed = (await call(`${gw.url}/api/v1/HostScanJob`, { token: adminToken() })).json.find((j: any) => j.id === res.json.id);
      const statuses = listed.hostScanHostStatus.map((s: any) => s.status);
      expect(statuses.every((s: number) => s === 2 || s === 3)).toBe(true);
      expect(listed.status).toBe(new Set(statuses).size === 1 ? statuses[0] : 5);
    } finally {
      await gw.stop();
    }
  });
});
