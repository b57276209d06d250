import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { HOSTS, UNKNOWN_ID, hostsFile } from './support/hosts';
import { call } from './support/http';
import { adminToken, appToken } from './support/tokens';
import { countJobs as countStoreJobs } from './support/sql';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const TRACE = /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/;

let t: TestGateway;
let api: string;

beforeAll(async () => {
  t = await startTestGateway({ HOSTS_FILE: hostsFile() }, { runner: false });
  api = `${t.url}/api/v1/HostScanJob`;
});
afterAll(() => t.stop());

/** Fresh hosts for one test, so tests do not share active jobs. */
async function newHosts(n: number) {
  return t.gateway.service.upsertHosts(ADMIN, {
    hosts: Array.from({ length: n }, (_, i) => ({ name: `h-${randomUUID()}`, ipAddress: `127.0.1.${i + 1}` })),
  });
}

const schedule = (ids: unknown, token = adminToken()) =>
  call(`${api}/ByHostIdMultiple`, { method: 'POST', token, body: ids });

describe('POST /api/v1/HostScanJob/ByHostIdMultiple', () => {
  it('returns one HostScanJobStatus per host with every field of the vendor example', async () => {
    const res = await schedule([HOSTS.alpha.id]);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).toHaveLength(1);
    const [job] = res.json;
    expect(Object.keys(job)).toEqual(['id', 'status', 'statusDescription', 'hostScanHostStatus']);
    expect(job).toMatchObject({ status: 0, statusDescription: 'Queued.' });
    expect(job.id).toMatch(UUID);
    expect(job.hostScanHostStatus).toHaveLength(1);
    const host = job.hostScanHostStatus[0];
    expect(Object.keys(host)).toEqual([
      'hostScanHostId', 'hostId', 'name', 'dnsHostName', 'os', 'ipAddress', 'version', 'status', 'statusDescription', 'failureReason',
    ]);
    expect(host).toEqual({
      hostScanHostId: expect.stringMatching(UUID),
      hostId: HOSTS.alpha.id,
      name: 'alpha',
      dnsHostName: 'alpha.test.local',
      os: null,
      ipAddress: '127.0.0.11',
      version: null,
      status: 0,
      statusDescription: 'Queued',
      failureReason: 0,
    });
  });

  it('creates one job per distinct host, in request order, and de-duplicates ids', async () => {
    const [a, b, c] = await newHosts(3);
    const res = await schedule([c!.id, a!.id, c!.id.toUpperCase(), b!.id, a!.id]);
    expect(res.status).toBe(200);
    expect(res.json.map((j: any) => j.hostScanHostStatus[0].hostId)).toEqual([c!.id, a!.id, b!.id]);
    expect(new Set(res.json.map((j: any) => j.id)).size).toBe(3);
  });

  it('gives back the queued job of a host instead of a second one', async () => {
    const [a, b] = await newHosts(2);
    const first = await schedule([a!.id]);
    const second = await schedule([b!.id, a!.id], appToken());
    expect(second.status).toBe(200);
    expect(second.json[1].id).toBe(first.json[0].id);
    expect(second.json[0].id).not.toBe(first.json[0].id);
  });

  it('refuses unknown ids mixed with known ones, naming them, and schedules nothing', async () => {
    const [a] = await newHosts(1);
    const before = await countJobs();
    const res = await schedule([a!.id, UNKNOWN_ID]);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toEqual({
      type: 'https://tools.ietf.org/html/rfc7231#section-6.5.1',
      title: 'One or more validation errors occurred.',
      status: 400,
      detail: `Unknown host id: ${UNKNOWN_ID}.`,
      traceId: expect.stringMatching(TRACE),
      errors: { '$[1]': [`No host has the id '${UNKNOWN_ID}'.`] },
    });
    expect(await countJobs()).toBe(before);
    const again = await schedule([a!.id]);
    expect(again.status).toBe(200);
  });
});

describe('bad input: a clear 4xx that schedules nothing', () => {
  const cases: [string, { raw?: string | Buffer; body?: unknown; contentType?: string }, number, string][] = [
    ['missing body', {}, 400, '$'],
    ['empty JSON body', { raw: '', contentType: 'application/json' }, 400, '$'],
    ['null', { raw: 'null' }, 400, '$'],
    ['{}', { body: {} }, 400, '$'],
    ['"x"', { body: 'x' }, 400, '$'],
    ['[]', { body: [] }, 400, '$'],
    ['truncated JSON', { raw: `["${HOSTS.alpha.id}",` }, 400, '$'],
    ['a BOM before the JSON', { raw: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`["${HOSTS.alpha.id}"]`)]) }, 400, '$'],
    ['a non-UUID string', { body: [HOSTS.alpha.id, 'not-a-uuid'] }, 400, '$[1]'],
    ['a number element', { body: [42] }, 400, '$[0]'],
    ['a null element', { body: [HOSTS.alpha.id, null] }, 400, '$[1]'],
    ['a nested array', { body: [[HOSTS.alpha.id]] }, 400, '$[0]'],
    ['a 10,000-character string', { body: ['a'.repeat(10_000)] }, 400, '$[0]'],
    ['more than MAX_HOST_IDS ids', { body: Array.from({ length: 1001 }, () => randomUUID()) }, 400, '$'],
    ['a __proto__ key', { raw: '{"__proto__":{"isAdmin":true}}' }, 400, '$'],
  ];

  it.each(cases)('%s → 400 validation problem', async (_name, input, status, key) => {
    const before = await countJobs();
    const headers: Record<string, string> = {};
    if (input.raw !== undefined) headers['content-type'] = input.contentType ?? 'application/json';
    const res = await call(`${api}/ByHostIdMultiple`, { method: 'POST', token: adminToken(), headers, raw: input.raw, body: input.body });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json.title).toBe('One or more validation errors occurred.');
    expect(res.json.errors[key][0]).toEqual(expect.any(String));
    expect(res.json.traceId).toMatch(TRACE);
    expect(res.text.length).toBeLessThan(2000);
    expect(res.text).not.toMatch(/\n\s+at |node_modules|SELECT|INSERT/);
    expect(await countJobs()).toBe(before);
    expect(({} as any).isAdmin).toBeUndefined();
  });

  it('Content-Type text/plain → 415', async () => {
    const res = await call(`${api}/ByHostIdMultiple`, {
      method: 'POST', token: adminToken(), raw: `["${HOSTS.alpha.id}"]`, headers: { 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(415);
    expect(res.json).toMatchObject({ status: 415, title: 'Unsupported Media Type', traceId: expect.stringMatching(TRACE) });
  });

  it('a body over the limit → 413', async () => {
    const before = await countJobs();
    const raw = JSON.stringify(Array.from({ length: 5000 }, () => randomUUID()));
    const res = await call(`${api}/ByHostIdMultiple`, { method: 'POST', token: adminToken(), raw, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ status: 413, title: 'Payload Too Large' });
    expect(await countJobs()).toBe(before);
  });
});

describe('reading and cancelling', () => {
  it('GET /{id} returns the HostScanJob entity with creator, joins and timestamps', async () => {
    const [h] = await newHosts(1);
    const [scheduled] = (await schedule([h!.id])).json;
    const res = await call(`${api}/${scheduled.id}`, { token: adminToken() });
    expect(res.status).toBe(200);
    const job = res.json;
    expect(Object.keys(job)).toEqual([
      'id', 'createdBy', 'createdByUserName', 'createdFromAddress', 'hostScanJobHostJoin', 'nodeId', 'createdDateTimeUtc', 'modifiedDateTimeUtc',
    ]);
    expect(job).toMatchObject({ id: scheduled.id, createdBy: null, createdByUserName: 'Ada Admin', createdFromAddress: '127.0.0.1' });
    expect(job.nodeId).toMatch(UUID);
    expect(job.createdDateTimeUtc).toMatch(ISO);
    const [join] = job.hostScanJobHostJoin;
    expect(join.hostScanJobId).toBe(scheduled.id);
    expect(join.hostScanJob).toMatchObject({ id: scheduled.id, hostScanJobHostJoin: [] });
    expect(join.hostScanHostId).toBe(scheduled.hostScanHostStatus[0].hostScanHostId);
    expect(join.hostScanHost).toMatchObject({ id: join.hostScanHostId, hostId: h!.id, name: h!.name, ipAddress: '127.0.1.1', hostConnected: false });
    expect(join.actionQueue).toMatchObject({ status: 0, statusDescription: 'Queued', failureReason: 0 });
  });

  it('keeps a subject that is a UUID as createdBy', async () => {
    const [h] = await newHosts(1);
    const sub = randomUUID();
    const [scheduled] = (await schedule([h!.id], appToken({ sub }))).json;
    const res = await call(`${api}/${scheduled.id}`, { token: adminToken() });
    expect(res.json).toMatchObject({ createdBy: sub, createdByUserName: sub });
  });

  it('GET /{id}: 404 for an unknown job, 400 for a malformed id', async () => {
    const missing = await call(`${api}/${UNKNOWN_ID}`, { token: adminToken() });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ status: 404, title: 'Not Found', detail: expect.stringContaining(UNKNOWN_ID) });
    const bad = await call(`${api}/nope`, { token: adminToken() });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toHaveProperty('hostScanJobId');
  });

  it('GET / lists job statuses newest first, with skip and take', async () => {
    const hosts = await newHosts(3);
    for (const h of hosts) await schedule([h.id]);
    const res = await call(`${api}?take=3`, { token: appToken() });
    expect(res.status).toBe(200);
    expect(res.json.map((j: any) => j.hostScanHostStatus[0].hostId)).toEqual(hosts.map((h) => h.id).reverse());
    const skipped = await call(`${api}?skip=1&take=1`, { token: appToken() });
    expect(skipped.json.map((j: any) => j.hostScanHostStatus[0].hostId)).toEqual([hosts[1]!.id]);
    const bad = await call(`${api}?take=0`, { token: appToken() });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toHaveProperty('take');
  });

  it('DELETE /{id} → 202, the queued scan is Cancelled, and the host can be scheduled again', async () => {
    const [h] = await newHosts(1);
    const [scheduled] = (await schedule([h!.id])).json;
    const res = await call(`${api}/${scheduled.id}`, { method: 'DELETE', token: appToken() });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const job = (await call(`${api}/${scheduled.id}`, { token: appToken() })).json;
    expect(job.hostScanJobHostJoin[0].actionQueue).toMatchObject({ status: 4, failureReason: 0 });
    expect(job.hostScanJobHostJoin[0].actionQueue.statusDescription).toMatch(/^Cancelled/);
    const listed = (await call(`${api}?take=50`, { token: appToken() })).json.find((j: any) => j.id === scheduled.id);
    expect(listed).toMatchObject({ status: 4, statusDescription: 'Cancelled.' });
    const again = (await schedule([h!.id])).json[0];
    expect(again.id).not.toBe(scheduled.id);
    // A finished job: 202 as the vendor's page lists no other success, and nothing changes.
    expect((await call(`${api}/${scheduled.id}`, { method: 'DELETE', token: appToken() })).status).toBe(202);
    expect((await call(`${api}/${scheduled.id}`, { token: appToken() })).json).toEqual(job);
  });

  it('DELETE /{id} of an unknown job → 404', async () => {
    const res = await call(`${api}/${UNKNOWN_ID}`, { method: 'DELETE', token: adminToken() });
    expect(res.status).toBe(404);
  });

  it('ByHostId: GET finds the latest job of a host, POST schedules one', async () => {
    const [h] = await newHosts(1);
    expect((await call(`${api}/ByHostId/${h!.id}`, { token: adminToken() })).status).toBe(404);
    const posted = await call(`${api}/ByHostId/${h!.id}`, { method: 'POST', token: adminToken() });
    expect(posted.status).toBe(200);
    expect(posted.json).toMatchObject({ status: 0, statusDescription: 'Queued.', hostScanHostStatus: [{ hostId: h!.id }] });
    const found = await call(`${api}/ByHostId/${h!.id}`, { token: adminToken() });
    expect(found.status).toBe(200);
    expect(found.json.id).toBe(posted.json.id);
    expect(found.json.hostScanJobHostJoin[0].hostScanHost.hostId).toBe(h!.id);
    const unknown = await call(`${api}/ByHostId/${UNKNOWN_ID}`, { method: 'POST', token: adminToken() });
    expect(unknown.status).toBe(400);
    expect(unknown.json.errors).toEqual({ hostId: [`No host has the id '${UNKNOWN_ID}'.`] });
  });

  it('the literal ByHostIdMultiple route wins over {id}', async () => {
    const res = await call(`${api}/ByHostIdMultiple`, { method: 'POST', token: adminToken(), body: [HOSTS.beta.id] });
    expect(res.status).toBe(200);
    expect(Array.isArray(res.json)).toBe(true);
  });
});

describe('edges of the HTTP server', () => {
  it('answers unknown routes with a ProblemDetails 404', async () => {
    const res = await call(`${t.url}/api/v1/Nope`, { token: adminToken() });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('keeps a caller trace id from traceparent', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await call(`${api}/${UNKNOWN_ID}`, { token: adminToken(), headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } });
    expect(res.json.traceId).toMatch(new RegExp(`^00-${trace}-[0-9a-f]{16}-00$`));
  });

  it('serves liveness and readiness', async () => {
    expect((await call(`${t.url}/health/live`)).status).toBe(200);
    const ready = await call(`${t.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ready' });
  });
});

const countJobs = () => countStoreJobs(t.gateway.store);
