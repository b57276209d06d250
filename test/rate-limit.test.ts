import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/gateway';
import { rawSocket } from './support/graphql';
import { adminToken, appToken } from './support/tokens';
import type { Autocannon } from '../bench/autocannon';

const autocannon = require('autocannon') as Autocannon;

/** A GET from a chosen loopback source address (the limits key on it). */
function getFrom(localAddress: string, url: string, token: string) {
  return new Promise<{ status: number; retryAfter: string | undefined; body: any }>((resolve, reject) => {
    const req = request(url, { localAddress, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** rate_limited_total{limit}, read from an address of its own (/metrics is limited like any route). */
const metric = async (url: string, limit: string) => {
  const text = await new Promise<string>((resolve, reject) => {
    request(`${url}/metrics`, { localAddress: '127.0.0.99' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
    }).on('error', reject).end();
  });
  return Number(new RegExp(`^rate_limited_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
};

describe('request rate limits per client address', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ RATE_LIMIT_PER_ADDRESS: '5', RATE_LIMIT_WINDOW_MS: '60000' }, { runner: false });
  });
  afterAll(() => t.stop());

  it('answers 429 ProblemDetails with Retry-After past the limit, to that address only, and never to health probes', async () => {
    const url = `${t.url}/api/v1/HostScanJob`;
    for (let i = 0; i < 5; i++) expect((await getFrom('127.0.0.2', url, adminToken())).status).toBe(200);
    const refused = await getFrom('127.0.0.2', url, adminToken());
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(refused.body).toEqual({
      type: 'https://tools.ietf.org/html/rfc6585#section-4',
      title: 'Too Many Requests',
      status: 429,
      detail: expect.stringMatching(/^Too many requests from this client address; retry in/),
      traceId: expect.any(String),
    });
    // The same address, a different token: still the same address.
    expect((await getFrom('127.0.0.2', url, appToken())).status).toBe(429);
    // Another address is unaffected.
    expect((await getFrom('127.0.0.3', url, adminToken())).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await getFrom('127.0.0.2', `${t.url}/health/live`, adminToken())).status).toBe(200);
    expect(await metric(t.url, 'address')).toBeGreaterThanOrEqual(2);
  });

  it('answers GraphQL callers with a GraphQL error body coded RATE_LIMITED', async () => {
    const send = () => new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(`${t.url}/graphql`, { method: 'POST', localAddress: '127.0.0.4', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken()}` } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ query: '{ __typename }' }));
    });
    for (let i = 0; i < 5; i++) expect((await send()).status).toBe(200);
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(refused.body.data).toBeUndefined();
  });
});

describe('an autocannon flood from one address', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ RATE_LIMIT_PER_ADDRESS: '50', RATE_LIMIT_WINDOW_MS: '60000' }, { runner: false });
  });
  afterAll(() => t.stop());

  it('is answered 429 while another address keeps getting 200s, and is counted', async () => {
    const url = `${t.url}/api/v1/HostScanJob`;
    const before = await metric(t.url, 'address');
    // The gateway listens on 127.0.0.1, so autocannon's connections come from there.
    // autocannon answers a thenable, not a Promise.
    const flood = Promise.resolve(autocannon({ url, connections: 4, duration: 2, headers: { authorization: `Bearer ${adminToken()}` }, requests: [{ setupRequest: (r) => r }] }));
    let flooding = true;
    void flood.finally(() => (flooding = false));
    // The other client: 20 requests at most over the flood, well inside its own 50.
    const other: number[] = [];
    while (flooding && other.length < 20) {
      other.push((await getFrom('127.0.0.2', url, appToken())).status);
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await flood;
    const refused = result.statusCodeStats['429']?.count ?? 0;
    expect(refused, `429s among autocannon's ${result.requests.total} requests`).toBeGreaterThan(0);
    expect(result.errors, 'autocannon connection errors').toBe(0);
    expect(other.length, 'requests the other client made during the flood').toBeGreaterThan(5);
    expect(other.filter((status) => status !== 200)).toEqual([]);
    expect((await metric(t.url, 'address')) - before).toBeGreaterThanOrEqual(refused);
  });
});

describe('request rate limits per token subject', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ RATE_LIMIT_PER_SUBJECT: '4' }, { runner: false });
  });
  afterAll(() => t.stop());

  it('count one subject across addresses, and leave other subjects and anonymous callers alone', async () => {
    const url = `${t.url}/api/v1/HostScanJob`;
    const admin = adminToken();
    for (let i = 0; i < 4; i++) expect((await getFrom(`127.0.0.${10 + i}`, url, admin)).status).toBe(200);
    const refused = await getFrom('127.0.0.20', url, adminToken());
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toMatch(/^Too many requests from this token subject/);
    expect((await getFrom('127.0.0.20', url, appToken())).status).toBe(200);
    // Without a valid token the subject limit does not apply; the route's own 401 answers.
    expect((await getFrom('127.0.0.20', url, 'not-a-token')).status).toBe(401);
    expect(await metric(t.url, 'subject')).toBe(1);
  });
});

describe('WebSocket message rate', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ WS_MAX_MESSAGES_PER_SECOND: '5' }, { runner: false });
  });
  afterAll(() => t.stop());

  it('closes a socket that sends faster than the limit with 1013, and counts it', async () => {
    const s = await rawSocket(t.url);
    s.send({ type: 'connection_init', payload: { token: adminToken() } });
    expect((await s.next()).type).toBe('connection_ack');
    for (let i = 0; i < 20; i++) s.send({ type: 'ping' });
    expect((await s.closed).code).toBe(1013);
    expect(await metric(t.url, 'socket')).toBe(1);
    // A socket within the limit is untouched.
    const calm = await rawSocket(t.url);
    calm.send({ type: 'connection_init', payload: { token: adminToken() } });
    expect((await calm.next()).type).toBe('connection_ack');
    calm.send({ type: 'ping' });
    expect((await calm.next()).type).toBe('pong');
    calm.ws.close();
  });
});
