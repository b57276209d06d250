import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './support/gateway';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { adminToken, appToken, rawToken, token } from './support/tokens';
import { graphqlDocument } from './support/arbitraries';
import { countJobs as countStoreJobs } from './support/sql';

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
  t = await startTestGateway({ HOSTS_FILE: hostsFile(), WS_MAX_DOCUMENTS_PER_SUBJECT: '1' }, { runner: false });
});
afterAll(async () => {
  await t.stop();
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

const countJobs = () => countStoreJobs(t.gateway.store);
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

/** The same document with comments and layout added between tokens (never inside string literals). */
const noisy = (query: string) =>
  fc.array(fc.constantFrom(' ', '\n\t ', ' # noise, "quoted" {braces}\n', '  \r\n'), { minLength: 1, maxLength: 8 }).map((noise) => {
    let out = '';
    let inString = false;
    let n = 0;
    for (let i = 0; i < query.length; i++) {
      const c = query[i]!;
      if (inString && c === '\\') {
        out += c + (query[++i] ?? '');
        continue;
      }
      if (c === '"') inString = !inString;
      out += c === ' ' && !inString ? noise[n++ % noise.length]! : c;
    }
    return out;
  });

describe('GraphQL documents that differ only in comments and layout, or carry their cost in variables', () => {
  const codes = (res: Awaited<ReturnType<typeof call>>) => [res.status, (res.json.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code)];

  it('a comment or whitespace variant answers exactly as the document does', async () => {
    await fc.assert(
      fc.asyncProperty(graphqlDocument().chain((q) => fc.tuple(fc.constant(q), noisy(q))), async ([query, variant]) => {
        const plain = await call(`${t.url}/graphql`, { token: appToken(), body: { query } });
        const noisyReply = await call(`${t.url}/graphql`, { token: appToken(), body: { query: variant } });
        expect(codes(noisyReply)).toEqual(codes(plain));
      }),
      params,
    );
  });

  it('a `first` sent as a variable costs what the same literal costs', async () => {
    const page = fc.record({
      aliases: fc.integer({ min: 1, max: 15 }),
      first: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1000, max: 100_000 })),
      fields: fc.subarray(['id', 'name', 'dnsHostName', 'ipAddress', 'os', 'version', 'sshPort'], { minLength: 1 }),
    });
    await fc.assert(
      fc.asyncProperty(page, async ({ aliases, first, fields }) => {
        const body = (arg: string) => Array.from({ length: aliases }, (_, i) => `a${i}: hosts(first: ${arg}) { nodes { ${fields.join(' ')} } }`).join(' ');
        const literal = await call(`${t.url}/graphql`, { token: appToken(), body: { query: `{ ${body(String(first))} }` } });
        const variable = await call(`${t.url}/graphql`, { token: appToken(), body: { query: `query($n: Int) { ${body('$n')} }`, variables: { n: first } } });
        expect(codes(variable)).toEqual(codes(literal));
      }),
      params,
    );
  });

  it('over the socket, variants of one subscription count as one document', async () => {
    const selection = fc.subarray(['id', 'status', 'statusDescription', 'hostScanHostStatus { name status }'], { minLength: 1 }).map((f) => `subscription { hostScanJobStatus { ${f.join(' ')} } }`);
    await fc.assert(
      fc.asyncProperty(selection.chain((q) => fc.tuple(fc.constant(q), fc.array(noisy(q), { minLength: 1, maxLength: 4 }))), async ([query, variants]) => {
        const ws = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
        const replies: { id?: string; type: string }[] = [];
        ws.on('message', (data) => replies.push(JSON.parse(String(data))));
        await new Promise((resolve) => ws.once('open', resolve));
        // A subject of its own, allowed one distinct document (the fuzz gateway's WS_MAX_DOCUMENTS_PER_SUBJECT).
        ws.send(JSON.stringify({ type: 'connection_init', payload: { token: token({ roles: ['App'], sub: `fuzz-${Math.random()}` }) } }));
        const acked = Date.now() + 5_000;
        while (!replies.some((r) => r.type === 'connection_ack')) {
          if (Date.now() > acked) throw new Error('no connection_ack within 5 s');
          await new Promise((r) => setTimeout(r, 5));
        }
        [query, ...variants].forEach((q, i) => ws.send(JSON.stringify({ id: `v${i}`, type: 'subscribe', payload: { query: q } })));
        await new Promise((r) => setTimeout(r, 50));
        expect(ws.readyState).toBe(ws.OPEN);
        ws.close();
        expect(replies.filter((r) => r.type === 'error')).toEqual([]);
      }),
      { ...params, numRuns: Math.min(params.numRuns, 50) },
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
