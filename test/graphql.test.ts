import { randomUUID } from 'node:crypto';
import { getIntrospectionQuery } from 'graphql';
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionFailureReason, ActionStatus } from '../src/model';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql, rawSocket } from './support/graphql';
import { UNKNOWN_ID } from './support/hosts';
import { call } from './support/http';
import { adminToken, appToken, token } from './support/tokens';
import { countJobs as countStoreJobs } from './support/sql';

const STATUS_FIELDS = `id status statusDescription hostScanHostStatus {
  hostScanHostId hostId name dnsHostName os ipAddress version status statusDescription failureReason }`;

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({}, { runner: false });
});
afterAll(() => t.stop());

const newHosts = (n: number) =>
  t.gateway.service.upsertHosts(ADMIN, { hosts: Array.from({ length: n }, (_, i) => ({ name: `g-${randomUUID()}`, ipAddress: `127.0.2.${i + 1}` })) });
const rest = (path: string, init: Parameters<typeof call>[1] = {}) => call(`${t.url}/api/v1/HostScanJob${path}`, { token: adminToken(), ...init });
const countJobs = () => countStoreJobs(t.gateway.store);

/** The GraphQL status shape with enum names turned into the vendor integers REST sends. */
function asRest(job: any) {
  return {
    ...job,
    status: ActionStatus[job.status as keyof typeof ActionStatus],
    hostScanHostStatus: job.hostScanHostStatus.map((h: any) => ({
      ...h,
      status: ActionStatus[h.status as keyof typeof ActionStatus],
      failureReason: ActionFailureReason[h.failureReason as keyof typeof ActionFailureReason],
    })),
  };
}

describe('GraphQL over HTTP conformance (graphql-http audits)', () => {
  const fetchFn: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${adminToken()}`);
    return fetch(input, { ...init, headers });
  };
  for (const audit of serverAudits({ url: () => `${t.url}/graphql`, fetchFn })) {
    it(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      if (result.status === 'error') throw new Error(result.reason);
    });
  }
});

describe('the same answers as REST', () => {
  it('scheduleHostScans returns what ByHostIdMultiple returns, and the same active job', async () => {
    const [a, b] = await newHosts(2);
    const viaRest = await rest('/ByHostIdMultiple', { body: [a!.id] });
    const viaGql = await gql(t.url, appToken(), `mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { ${STATUS_FIELDS} } }`, { ids: [b!.id, a!.id] });
    expect(viaGql.status).toBe(200);
    const jobs = viaGql.body.data.scheduleHostScans.map(asRest);
    expect(jobs[1]).toEqual(viaRest.json[0]);
    const againRest = await rest('/ByHostIdMultiple', { body: [b!.id] });
    expect(jobs[0]).toEqual(againRest.json[0]);
  });

  it('unknown ids: the same BAD_INPUT, the same field errors, nothing scheduled', async () => {
    const [a] = await newHosts(1);
    const before = await countJobs();
    const viaGql = await gql(t.url, adminToken(), `mutation { scheduleHostScans(hostIds: ["${a!.id}", "${UNKNOWN_ID}", "nope"]) { id } }`);
    const viaRest = await rest('/ByHostIdMultiple', { body: [a!.id, UNKNOWN_ID, 'nope'] });
    expect(viaRest.status).toBe(400);
    expect(viaGql.body.data).toBeNull();
    expect(viaGql.body.errors).toEqual([
      { message: viaRest.json.detail, locations: [{ line: 1, column: 12 }], path: ['scheduleHostScans'], extensions: { code: 'BAD_INPUT', errors: viaRest.json.errors } },
    ]);
    const unknownOnly = await gql(t.url, adminToken(), `mutation { scheduleHostScans(hostIds: ["${a!.id}", "${UNKNOWN_ID}"]) { id } }`);
    expect(unknownOnly.body.errors[0].extensions).toEqual({ code: 'BAD_INPUT', errors: { '$[1]': [`No host has the id '${UNKNOWN_ID}'.`] } });
    expect(await countJobs()).toBe(before);
  });

  it('roles: FORBIDDEN where REST says 403, with the same message', async () => {
    const [a] = await newHosts(1);
    const reviewer = token({ roles: ['Reviewer'] });
    const viaRest = await rest('/ByHostIdMultiple', { token: reviewer, body: [a!.id] });
    const viaGql = await gql(t.url, reviewer, `mutation { scheduleHostScans(hostIds: ["${a!.id}"]) { id } }`);
    expect(viaRest.status).toBe(403);
    expect(viaGql.body.errors[0]).toMatchObject({ message: viaRest.json.detail, extensions: { code: 'FORBIDDEN' } });
    const appUpsert = await gql(t.url, appToken(), 'mutation { upsertHosts(hosts: [{ name: "x" }]) { id } }');
    expect(appUpsert.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it('no token or a bad one: HTTP 401 with WWW-Authenticate, like REST', async () => {
    for (const bearer of [null, 'garbage', token({ roles: ['Admin'], exp: Math.floor(Date.now() / 1000) - 120 })]) {
      const res = await gql(t.url, bearer, '{ hostScanJobs { nodes { id } } }');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
  });

  it('hostScanJob and hostScanJobForHost match GET /{id} and GET /ByHostId/{hostId}', async () => {
    const [h] = await newHosts(1);
    const [scheduled] = (await rest('/ByHostIdMultiple', { body: [h!.id] })).json;
    const entity = (await rest(`/${scheduled.id}`)).json;
    const fields = `id createdBy createdByUserName createdFromAddress nodeId createdDateTimeUtc modifiedDateTimeUtc revision ${STATUS_FIELDS.slice(3)}`;
    // The REST helper reads as Admin, who sees the address the job was requested from.
    const byId = await gql(t.url, adminToken(), `query($id: ID!) { hostScanJob(id: $id) { ${fields} } }`, { id: scheduled.id });
    const job = byId.body.data.hostScanJob;
    expect(job).toMatchObject({
      id: entity.id, createdBy: 'admin-1', createdByUserName: entity.createdByUserName, createdFromAddress: entity.createdFromAddress,
      nodeId: entity.nodeId, createdDateTimeUtc: entity.createdDateTimeUtc, modifiedDateTimeUtc: entity.modifiedDateTimeUtc,
    });
    expect(asRest({ id: job.id, status: job.status, statusDescription: job.statusDescription, hostScanHostStatus: job.hostScanHostStatus }))
      .toEqual((await rest('?take=1000')).json.find((j: any) => j.id === scheduled.id));
    const forHost = await gql(t.url, appToken(), `{ hostScanJobForHost(hostId: "${h!.id}") { id } }`);
    expect(forHost.body.data.hostScanJobForHost.id).toBe((await rest(`/ByHostId/${h!.id}`)).json.id);
  });

  it('NOT_FOUND and BAD_INPUT where REST says 404 and 400', async () => {
    const missing = await gql(t.url, appToken(), `{ hostScanJob(id: "${UNKNOWN_ID}") { id } }`);
    expect(missing.body).toMatchObject({ data: { hostScanJob: null }, errors: [{ message: (await rest(`/${UNKNOWN_ID}`)).json.detail, extensions: { code: 'NOT_FOUND' } }] });
    const malformed = await gql(t.url, appToken(), '{ hostScanJob(id: "nope") { id } }');
    expect(malformed.body.errors[0].extensions).toEqual({ code: 'BAD_INPUT', errors: (await rest('/nope')).json.errors });
  });

  it('hostScanJobs pages newest first with cursors, and filters by status', async () => {
    const hosts = await newHosts(3);
    for (const h of hosts) await rest('/ByHostIdMultiple', { body: [h.id] });
    const q = 'query($after: String) { hostScanJobs(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }';
    const first = (await gql(t.url, appToken(), q)).body.data.hostScanJobs;
    const second = (await gql(t.url, appToken(), q, { after: first.pageInfo.endCursor })).body.data.hostScanJobs;
    const restIds = (await rest('?take=4')).json.map((j: any) => j.id);
    expect([...first.edges, ...second.edges].map((e: any) => e.node.id)).toEqual(restIds);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const cancelledId = restIds[0];
    await rest(`/${cancelledId}`, { method: 'DELETE' });
    const cancelled = (await gql(t.url, appToken(), '{ hostScanJobs(first: 100, status: Cancelled) { nodes { id status } } }')).body.data.hostScanJobs.nodes;
    expect(cancelled.map((j: any) => j.id)).toContain(cancelledId);
    expect(cancelled.every((j: any) => j.status === 'Cancelled')).toBe(true);
    const bad = await gql(t.url, appToken(), '{ hostScanJobs(first: 0) { nodes { id } } }');
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { first: [expect.any(String)] } });
    const badCursor = await gql(t.url, appToken(), '{ hostScanJobs(after: "bm9wZQ") { nodes { id } } }');
    expect(badCursor.body.errors[0].extensions.code).toBe('BAD_INPUT');
  });

  it('cancelHostScanJob does what DELETE does', async () => {
    const [h] = await newHosts(1);
    const [scheduled] = (await rest('/ByHostIdMultiple', { body: [h!.id] })).json;
    const res = await gql(t.url, appToken(), `mutation { cancelHostScanJob(id: "${scheduled.id}") { id status statusDescription } }`);
    expect(res.body.data.cancelHostScanJob).toEqual({ id: scheduled.id, status: 'Cancelled', statusDescription: 'Cancelled.' });
    expect((await rest(`/${scheduled.id}`)).json.hostScanJobHostJoin[0].actionQueue.status).toBe(4);
  });

  it('hosts, host, upsertHosts and removeHost', async () => {
    const name = `inv-${randomUUID()}`;
    const up = await gql(t.url, adminToken(), `mutation { upsertHosts(hosts: [{ name: "${name}", ipAddress: "127.0.0.9", sshPort: 2200 }]) { id name ipAddress sshPort os } }`);
    const host = up.body.data.upsertHosts[0];
    expect(host).toMatchObject({ name, ipAddress: '127.0.0.9', sshPort: 2200, os: null });
    const found = await gql(t.url, appToken(), `{ hosts(search: "${name}") { nodes { id } pageInfo { hasNextPage } } host(id: "${host.id}") { name } }`);
    expect(found.body.data).toEqual({ hosts: { nodes: [{ id: host.id }], pageInfo: { hasNextPage: false } }, host: { name } });
    const invalid = await gql(t.url, adminToken(), 'mutation { upsertHosts(hosts: [{ name: "", ipAddress: "300.1.1.1" }]) { id } }');
    expect(invalid.body.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { '$[0].name': [expect.any(String)], '$[0].ipAddress': [expect.any(String)] } });
    expect((await gql(t.url, adminToken(), `mutation { removeHost(id: "${host.id}") }`)).body.data.removeHost).toBe(true);
    expect((await gql(t.url, adminToken(), `mutation { removeHost(id: "${host.id}") }`)).body.errors[0].extensions.code).toBe('NOT_FOUND');
  });
});

describe('request limits and protections', () => {
  it('refuses a query deeper than GRAPHQL_MAX_DEPTH before running it', async () => {
    const shallow = await startTestGateway({ GRAPHQL_MAX_DEPTH: '3' }, { runner: false });
    try {
      const ok = await gql(shallow.url, appToken(), '{ hostScanJobs { nodes { id } } }');
      expect(ok.status).toBe(200);
      const deep = await gql(shallow.url, appToken(), '{ hostScanJobs { edges { node { hostScanHostStatus { name } } } } }');
      expect(deep.status).toBe(400);
      expect(deep.body.errors[0]).toMatchObject({ message: expect.stringMatching(/depth/i), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    } finally {
      await shallow.stop();
    }
  });

  it('answers the standard introspection query, and refuses introspection nested past it (HTTP and WebSocket)', async () => {
    const standard = await gql(t.url, appToken(), getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true }));
    expect(standard.status).toBe(200);
    expect(standard.body.data.__schema.types.length).toBeGreaterThan(10);
    // Each level multiplies the answer by the schema's field count; the depth limit ignores __schema.
    const nested = '{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }';
    const http = await gql(t.url, appToken(), nested);
    expect(http.status).toBe(400);
    expect(http.body.errors[0]).toMatchObject({ message: expect.stringMatching(/introspection/i), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    const s = await rawSocket(t.url);
    s.send({ type: 'connection_init', payload: { token: appToken() } });
    expect((await s.next()).type).toBe('connection_ack');
    s.send({ id: 'n', type: 'subscribe', payload: { query: nested } });
    const refused = await s.next();
    expect(refused).toMatchObject({ id: 'n', type: 'error' });
    expect(refused.payload[0].message).toMatch(/introspection/i);
    s.ws.close();
  });

  it('bounds ofType nesting by GRAPHQL_MAX_INTROSPECTION_DEPTH: the standard query passes, 20 levels are refused (HTTP and WebSocket)', async () => {
    const standard = await gql(t.url, appToken(), getIntrospectionQuery({ typeDepth: 9 }));
    expect(standard.status).toBe(200);
    expect(standard.body.errors).toBeUndefined();
    const chain = (n: number) => `${'ofType { '.repeat(n)}name${' }'.repeat(n)}`;
    const deep = `{ __schema { types { fields { type { ${chain(20)} } } } } }`;
    const message = 'Introspection nested 20 ofType levels deep; the limit is 12 (GRAPHQL_MAX_INTROSPECTION_DEPTH).';
    const http = await gql(t.url, appToken(), deep);
    expect(http.status).toBe(400);
    expect(http.body.errors[0]).toMatchObject({ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    // Split across fragments, and one fragment spread many times, counts the same.
    const split = `{ __schema { types { ...A ...A } } } fragment A on __Type { ${'ofType { '.repeat(10)}...B${' }'.repeat(10)} } fragment B on __Type { ${chain(10)} }`;
    expect((await gql(t.url, appToken(), split)).body.errors[0]).toMatchObject({ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect((await gql(t.url, appToken(), `{ __schema { types { ${chain(12)} } } }`)).status).toBe(200);
    const s = await rawSocket(t.url);
    s.send({ type: 'connection_init', payload: { token: appToken() } });
    expect((await s.next()).type).toBe('connection_ack');
    s.send({ id: 'o', type: 'subscribe', payload: { query: deep } });
    expect(await s.next()).toMatchObject({ id: 'o', type: 'error', payload: [{ message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    s.ws.close();
  });

  it('refuses alias batching and schedules nothing', async () => {
    const [h] = await newHosts(1);
    const before = await countJobs();
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: scheduleHostScans(hostIds: ["${h!.id}"]) { id }`).join(' ');
    const res = await gql(t.url, adminToken(), `mutation { ${aliases} }`);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(await countJobs()).toBe(before);
  });

  it('refuses documents over GRAPHQL_MAX_TOKENS and GRAPHQL_MAX_DIRECTIVES before running them', async () => {
    const small = await startTestGateway({ GRAPHQL_MAX_TOKENS: '100', GRAPHQL_MAX_DIRECTIVES: '3' }, { runner: false });
    try {
      const many = `{ hosts { nodes { ${Array.from({ length: 120 }, () => 'id').join(' ')} } } }`;
      const tokens = await gql(small.url, appToken(), many);
      expect(tokens.status).toBe(400);
      expect(tokens.body.errors[0]).toMatchObject({ message: expect.stringMatching(/token/i), extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
      const directives = await gql(small.url, appToken(), '{ hosts @include(if: true) @include(if: true) @skip(if: false) @skip(if: false) { nodes { id } } }');
      expect(directives.status).toBe(400);
      expect(directives.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect((await gql(small.url, appToken(), '{ hosts { nodes { id } } }')).status).toBe(200);
    } finally {
      await small.stop();
    }
  });

  it('refuses batched requests', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken()}` },
      body: JSON.stringify([{ query: '{ hosts { nodes { id } } }' }, { query: '{ hosts { nodes { id } } }' }]),
    });
    expect(res.status).toBe(400);
  });

  it('refuses a GET query without a preflight-forcing header (CSRF), and answers it with one', async () => {
    // A browser may send a GET from any page without a preflight; only a header it cannot set unasked
    // (or a non-simple content type) shows the caller is not such a page.
    const url = `${t.url}/graphql?query=${encodeURIComponent('{ hosts { nodes { id } } }')}`;
    const simple = await fetch(url, { headers: { authorization: `Bearer ${adminToken()}` } });
    expect(simple.status).toBe(400);
    expect(await simple.text()).toMatch(/Cross-Site Request Forgery/);
    const preflighted = await fetch(url, { headers: { authorization: `Bearer ${adminToken()}`, 'apollo-require-preflight': 'true' } });
    expect(preflighted.status).toBe(200);
    expect(((await preflighted.json()) as any).data.hosts.nodes.length).toBeGreaterThan(0);
  });

  it('refuses a subscription over HTTP with 400, pointing at the WebSocket (found by the fuzz suite)', async () => {
    const res = await gql(t.url, adminToken(), 'subscription { hostScanJobStatus { id } }');
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ message: expect.stringMatching(/WebSocket/), extensions: { code: 'BAD_REQUEST' } });
  });

  it('answers a body it cannot take with a GraphQL error list, not a ProblemDetails (found by the fuzz suite), and schedules nothing', async () => {
    const before = await countJobs();
    const post = (raw: string | Buffer, contentType = 'application/json') =>
      call(`${t.url}/graphql`, { method: 'POST', token: adminToken(), raw, headers: { 'content-type': contentType } });
    const schedule = (variables: string) => `{"query":"mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }","variables":${variables}}`;
    const cases = [
      { res: await post(schedule(`{"ids":["${UNKNOWN_ID}"],"__proto__":{"x":1}}`)), status: 400, message: /__proto__/ },
      { res: await post(schedule('{"ids": [')), status: 400, message: /not valid JSON/ },
      { res: await post(schedule('{}'), 'text/plain'), status: 415, message: /text\/plain/ },
      // Over BODY_LIMIT_BYTES (100 KiB with the default MAX_HOST_IDS).
      { res: await post(Buffer.alloc(1024 * 1024, 0x20)), status: 413, message: /exceeds the limit/ },
    ];
    for (const { res, status, message } of cases) {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(res.json.errors).toEqual([{ message: expect.stringMatching(message), extensions: expect.objectContaining({ code: 'BAD_REQUEST' }) }]);
    }
    expect(cases[0]!.res.json.errors[0].extensions.errors).toEqual({ $: [expect.stringMatching(/__proto__/)] });
    expect(await countJobs()).toBe(before);
    // REST keeps its ProblemDetails for the same body.
    const problem = await rest('/ByHostIdMultiple', { method: 'POST', raw: `["${UNKNOWN_ID}", {"__proto__": 1}]`, headers: { 'content-type': 'application/json' } });
    expect(problem.status).toBe(400);
    expect(problem.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(problem.json.errors).toEqual({ $: [expect.stringMatching(/__proto__/)] });
  });

  it('answers a wrongly typed variable with 400 BAD_USER_INPUT', async () => {
    const res = await gql(t.url, adminToken(), 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }', { ids: [[1]] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});

describe('production', () => {
  let p: TestGateway;
  beforeAll(async () => {
    p = await startTestGateway({ NODE_ENV: 'production', JWT_ISSUER: 'https://idp.test', JWT_AUDIENCE: 'gw' }, { runner: false });
  });
  afterAll(() => p.stop());
  const prodToken = () => token({ roles: ['Admin'], iss: 'https://idp.test', aud: 'gw' });

  it('has no introspection and names no fields in errors', async () => {
    const intro = await gql(p.url, prodToken(), '{ __schema { types { name } } }');
    expect(intro.body.errors[0].message).toMatch(/introspection/i);
    const typo = await gql(p.url, prodToken(), '{ hostScanJob { idd } }');
    expect(JSON.stringify(typo.body)).not.toMatch(/Did you mean/);
    const deep = await gql(p.url, prodToken(), '{ hostScanJobs { edges { node { hostScanHostStatus { name } } } } }');
    expect(deep.status).toBe(200);
  });

  it('serves no landing page', async () => {
    const res = await fetch(`${p.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
  });
});
