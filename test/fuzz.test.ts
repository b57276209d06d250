import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './support/gateway';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { adminToken, appToken, rawToken, token } from './support/tokens';
import { graphqlDocument } from './support/arbitraries';

// Property tests: hostile input of every shape, against the real gateway. 100 runs each in CI
// (FUZZ_RUNS for more); a failure prints its seed, and FUZZ_SEED replays it.
const params = {
  numRuns: Number(process.env.FUZZ_RUNS ?? 100),
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
  endOnFailure: true,
};

let t: TestGateway;
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown) => unhandled.push(err);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  t = await startTestGateway({ HOSTS_FILE: hostsFile() }, { runner: false });
});
afterAll(async () => {
  await t.stop();
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

const countJobs = async () => (await t.gateway.store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM host_scan_jobs'))[0]!.n;
const knownId = fc.constantFrom(HOSTS.alpha.id, HOSTS.beta.id, HOSTS.gamma.id);
const anyToken = fc.oneof(
  fc.constant(null),
  fc.constant(adminToken()),
  fc.constant(appToken()),
  fc.constant(token({ roles: ['Reviewer'] })),
  fc.string({ maxLength: 300 }),
);

function expectProblem(res: Awaited<ReturnType<typeof call>>) {
  expect(res.status).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.json).toMatchObject({ type: expect.any(String), title: expect.any(String), status: res.status, traceId: expect.any(String) });
  }
}

describe('REST under arbitrary input', () => {
  it('never answers 5xx, always answers errors as ProblemDetails, and a refused request schedules nothing', async () => {
    const body = fc.oneof(
      fc.json(),
      fc.string({ maxLength: 200 }),
      fc.array(fc.oneof(knownId, fc.uuid(), fc.string({ maxLength: 40 }), fc.integer(), fc.constant(null)), { maxLength: 20 }).map((a) => JSON.stringify(a)),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/problem+json', 'application/xml', '');
    const path = fc.oneof(
      fc.constant('/ByHostIdMultiple'),
      knownId.map((id) => `/ByHostId/${id}`),
      fc.string({ maxLength: 60 }).map((s) => `/${encodeURIComponent(s)}`),
      fc.uuid().map((id) => `/${id}`),
    );
    const method = fc.constantFrom('POST', 'GET', 'DELETE', 'PUT', 'PATCH');
    await fc.assert(
      fc.asyncProperty(method, path, body, contentType, anyToken, async (m, p, b, ct, tok) => {
        const before = await countJobs();
        const headers: Record<string, string> = ct ? { 'content-type': ct } : {};
        const res = await call(`${t.url}/api/v1/HostScanJob${p}`, { method: m, raw: m === 'GET' ? undefined : b, headers, token: tok });
        expectProblem(res);
        if (res.status !== 200) expect(await countJobs()).toBe(before);
      }),
      params,
    );
  });

  it('answers arbitrary tokens with 200, 401 or 403, never more', async () => {
    const claims = fc.dictionary(fc.constantFrom('sub', 'exp', 'iat', 'nbf', 'roles', 'role', 'iss', 'aud', 'name', 'x'), fc.jsonValue(), { maxKeys: 8 });
    const header = fc.record({ alg: fc.constantFrom('HS256', 'none', 'None', 'RS256', 'HS512', 'ES256', ''), typ: fc.constantFrom('JWT', 'at+jwt', '') }, { requiredKeys: [] });
    const tok = fc.oneof(
      fc.string({ maxLength: 500 }),
      fc.tuple(fc.base64String({ maxLength: 80 }), fc.base64String({ maxLength: 200 }), fc.base64String({ maxLength: 60 })).map((p) => p.join('.')),
      fc.tuple(header, claims, fc.boolean()).map(([h, c, signed]) => rawToken(h, c, signed ? undefined : null)),
    );
    await fc.assert(
      fc.asyncProperty(tok, async (bearer) => {
        const res = await call(`${t.url}/api/v1/HostScanJob?take=1`, { headers: { authorization: `Bearer ${bearer}` } });
        expect([200, 401, 403]).toContain(res.status);
        if (res.status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }),
      params,
    );
  });
});

describe('GraphQL over HTTP under arbitrary documents and variables', () => {
  it('never answers 5xx or an INTERNAL error, and a refused request schedules nothing', async () => {
    const document = fc.oneof({ weight: 4, arbitrary: graphqlDocument() }, { weight: 1, arbitrary: fc.string({ maxLength: 300 }) });
    const variables = fc.oneof(fc.constant(undefined), fc.dictionary(fc.constantFrom('ids', 'id', 'first', 'after', 'x'), fc.jsonValue(), { maxKeys: 4 }), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(document, variables, anyToken, async (query, vars, tok) => {
        const before = await countJobs();
        const res = await call(`${t.url}/graphql`, { token: tok, body: vars === undefined ? { query } : { query, variables: vars } });
        expect(res.status).toBeLessThan(500);
        expect(res.json).toBeTypeOf('object');
        const codes = (res.json.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code);
        expect(codes).not.toContain('INTERNAL');
        if (res.status >= 400 || res.json.data == null) expect(await countJobs()).toBe(before);
      }),
      params,
    );
  });
});

describe('graphql-ws under arbitrary frames', () => {
  it('never closes a socket with 4500 and never stops serving', async () => {
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json(),
      fc.record({
        id: fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constant(null)),
        type: fc.constantFrom('subscribe', 'complete', 'ping', 'pong', 'connection_init', 'next', 'error', 'bogus'),
        payload: fc.oneof(fc.jsonValue(), graphqlDocument().map((query) => ({ query })), graphqlDocument().map((query) => ({ query, variables: { ids: [HOSTS.alpha.id] } }))),
      }, { requiredKeys: ['type'] }).map((m) => JSON.stringify(m)),
    );
    const init = fc.oneof(
      fc.constant(JSON.stringify({ type: 'connection_init', payload: { token: adminToken() } })),
      fc.constant(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${appToken()}` } })),
      fc.jsonValue().map((payload) => JSON.stringify({ type: 'connection_init', payload })),
      fc.constant(''),
    );
    await fc.assert(
      fc.asyncProperty(init, fc.array(frame, { maxLength: 12 }), async (first, frames) => {
        const ws = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
        const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
        ws.on('error', () => {});
        await new Promise((resolve) => ws.once('open', resolve));
        if (first) ws.send(first);
        for (const f of frames) if (ws.readyState === ws.OPEN) ws.send(f);
        await new Promise((r) => setTimeout(r, 30));
        if (ws.readyState === ws.OPEN) ws.close(1000);
        expect(await closed).not.toBe(4500);
      }),
      { ...params, numRuns: Math.min(params.numRuns, 100) },
    );
    expect((await call(`${t.url}/health/live`)).status).toBe(200);
  });
});
