import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyRequest } from 'fastify';
import { isLocalVisitor } from '../src/dev-token';
import { startTestGateway, type TestGateway } from './support/gateway';

/**
 * A raw GET with exactly the headers given (fetch would not let a test choose Host), from this machine:
 * the peer is always loopback, as it is for DNS rebinding and for a reverse proxy on the same host.
 */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the development token at /dashboard/config.json', () => {
  let dev: TestGateway;
  let port: number;
  let token: string;
  const config = (headers: Record<string, string>) => get(`${dev.url}/dashboard/config.json`, headers);

  beforeAll(async () => {
    dev = await startTestGateway({ JWT_SECRET: '' }, { runner: false });
    port = dev.gateway.port;
    token = dev.gateway.devTokens!.admin;
  });
  afterAll(() => dev?.stop());

  it.each([
    ['127.0.0.1 with the port', () => `127.0.0.1:${port}`],
    ['localhost with the port', () => `localhost:${port}`],
    ['LocalHost without a port', () => 'LocalHost'],
    ['another 127/8 address', () => `127.8.9.10:${port}`],
    ['[::1]', () => `[::1]:${port}`],
  ])('goes to a loopback visitor who asked for a loopback name: %s', async (_name, host) => {
    const res = await config({ host: host() });
    expect(res.json).toEqual({ devToken: token });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('goes to a same-origin page on a loopback name (Origin sent)', async () => {
    expect((await config({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).json.devToken).toBe(token);
  });

  it.each([
    ['a rebound DNS name', { host: 'attacker.example' }],
    ['a rebound DNS name with the port', { host: 'attacker.example:6500' }],
    ['a name that only starts like loopback', { host: '127.0.0.1.attacker.example' }],
    ['a subdomain of localhost elsewhere', { host: 'localhost.attacker.example' }],
    ['a loopback Host but a foreign Origin', { host: '127.0.0.1', origin: 'http://attacker.example' }],
    ['a loopback Host and an opaque Origin', { host: '127.0.0.1', origin: 'null' }],
    ['a reverse proxy that says so (X-Forwarded-For)', { host: '127.0.0.1', 'x-forwarded-for': '203.0.113.9' }],
    ['a reverse proxy that says so (Forwarded)', { host: '127.0.0.1', forwarded: 'for=203.0.113.9' }],
    ['a reverse proxy that says so (Via)', { host: '127.0.0.1', via: '1.1 proxy' }],
    ['a proxy keeping the public name', { host: 'gateway.corp.example' }],
  ])('is withheld from loopback peers with %s', async (_name, headers) => {
    const res = await config(headers);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ devToken: null });
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('isLocalVisitor', () => {
  // Peers other than loopback cannot be made from a test on this machine, so the rule is checked as a function.
  const visitor = (remoteAddress: string, host = '127.0.0.1:6500') => ({ socket: { remoteAddress }, headers: { host } }) as unknown as FastifyRequest;

  it('takes loopback peers only, in either address family', () => {
    expect(isLocalVisitor(visitor('127.0.0.1'))).toBe(true);
    expect(isLocalVisitor(visitor('::ffff:127.0.0.1'))).toBe(true);
    expect(isLocalVisitor(visitor('::1'))).toBe(true);
    for (const peer of ['10.0.0.5', '::ffff:10.0.0.5', '192.168.1.2', '::2', '', '1270.0.0.1']) expect(isLocalVisitor(visitor(peer)), peer).toBe(false);
  });
});

describe('outside development', () => {
  // Two gateways start here; on a busy machine that alone can take most of the default 30 s.
  it('never hands out a token, to anyone', { timeout: 60_000 }, async () => {
    const keyed = await startTestGateway({}, { runner: false });
    const prod = await startTestGateway({ NODE_ENV: 'production', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, { runner: false });
    try {
      for (const gw of [keyed, prod]) {
        const res = await get(`${gw.url}/dashboard/config.json`, { host: `127.0.0.1:${gw.gateway.port}` });
        expect(res.json).toEqual({ devToken: null });
        expect(res.headers['cache-control']).toBe('no-store');
      }
    } finally {
      await Promise.all([keyed.stop(), prod.stop()]);
    }
  });
});
