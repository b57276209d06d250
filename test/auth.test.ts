import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/gateway';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { TEST_SECRET, adminToken, rawToken, token } from './support/tokens';
import { countJobs as countStoreJobs } from './support/sql';

const now = () => Math.floor(Date.now() / 1000);
const ASPNET_ROLE = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';

let t: TestGateway;
const gateways: TestGateway[] = [];

beforeAll(async () => {
  t = await startTestGateway({ HOSTS_FILE: hostsFile() }, { runner: false });
  gateways.push(t);
});
afterAll(() => Promise.all(gateways.map((g) => g.stop())));

async function schedule(g: TestGateway, bearer: string | null, headers: Record<string, string> = {}) {
  const before = await countJobs(g);
  const res = await call(`${g.url}/api/v1/HostScanJob/ByHostIdMultiple`, {
    method: 'POST',
    body: [HOSTS.alpha.id],
    headers: bearer === null ? headers : { authorization: bearer, ...headers },
  });
  const created = (await countJobs(g)) - before;
  return { ...res, created };
}

const countJobs = (g: TestGateway) => countStoreJobs(g.gateway.store);

function expect401(res: Awaited<ReturnType<typeof schedule>>) {
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.json).toMatchObject({ status: 401, title: 'Unauthorized', traceId: expect.any(String) });
  expect(res.created).toBe(0);
}

describe('401: no valid token', () => {
  const payload = () => ({ sub: 'x', roles: ['Admin'], exp: now() + 600 });
  const cases: [string, () => string | null][] = [
    ['no Authorization header', () => null],
    ['an empty bearer', () => 'Bearer '],
    ['another scheme', () => `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['four segments', () => `Bearer ${adminToken()}.extra`],
    ['bad base64', () => 'Bearer e30.!!!!.e30'],
    ['a header that is not JSON', () => `Bearer ${Buffer.from('nope').toString('base64url')}.e30.sig`],
    ['100 KB', () => `Bearer ${'a'.repeat(50_000)}.${'b'.repeat(50_000)}.c`],
    ['a JSON string payload', () => `Bearer ${rawToken({ alg: 'HS256', typ: 'JWT' }, JSON.stringify('admin'))}`],
    ['alg none', () => `Bearer ${rawToken({ alg: 'none', typ: 'JWT' }, payload(), null)}`],
    ['alg None', () => `Bearer ${rawToken({ alg: 'None' }, payload(), null)}`],
    ['alg NONE', () => `Bearer ${rawToken({ alg: 'NONE' }, payload(), null)}`],
    ['alg nOnE with a signature', () => `Bearer ${rawToken({ alg: 'nOnE' }, payload())}`],
    ['HS384 with the right secret', () => `Bearer ${jwt.sign(payload(), TEST_SECRET, { algorithm: 'HS384' })}`],
    ['signed with another key', () => `Bearer ${token({ roles: ['Admin'] }, { secret: 'another-secret-another-secret-another' })}`],
    ['a tampered payload', () => {
      const [h, , s] = token({ roles: ['App'] }).split('.');
      return `Bearer ${h}.${Buffer.from(JSON.stringify({ ...payload(), roles: ['Admin'] })).toString('base64url')}.${s}`;
    }],
    ['expired beyond the 30 s tolerance', () => `Bearer ${token({ roles: ['Admin'], exp: now() - 45 })}`],
    ['no exp', () => `Bearer ${rawToken({ alg: 'HS256' }, { sub: 'x', roles: ['Admin'] })}`],
    ['a string exp', () => `Bearer ${rawToken({ alg: 'HS256' }, { sub: 'x', roles: ['Admin'], exp: String(now() + 600) })}`],
    ['nbf in the future', () => `Bearer ${token({ roles: ['Admin'], nbf: now() + 120 })}`],
    ['no subject', () => `Bearer ${rawToken({ alg: 'HS256' }, { roles: ['Admin'], exp: now() + 600 })}`],
    ['a JSON-serialized JWS', () => `Bearer {"payload":"e30","signature":"x"}`],
  ];
  it.each(cases)('%s', async (_name, make) => {
    expect401(await schedule(t, make()));
  });

  it('says why in WWW-Authenticate when a token was sent', async () => {
    const res = await schedule(t, `Bearer ${token({ roles: ['Admin'], exp: now() - 120 })}`);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="The bearer token has expired."');
  });
});

describe('403: a valid token without a role allowed here', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['no role claim', {}],
    ['Reviewer', { roles: ['Reviewer'] }],
    ['UserPlus', { role: 'UserPlus' }],
    ['admin in the wrong case', { roles: ['admin'] }],
    ['a comma-separated string', { roles: 'Admin,App' }],
    ['role as an object', { roles: { Admin: true } }],
    ['an array of objects', { roles: [{ name: 'Admin' }] }],
  ];
  it.each(cases)('%s', async (_name, claims) => {
    const res = await schedule(t, `Bearer ${token(claims)}`);
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ status: 403, title: 'Forbidden' });
    expect(res.created).toBe(0);
  });
});

describe('accepted tokens', () => {
  // Times are taken when the test runs, not when the file is collected (a loaded machine may be slow between).
  const cases: [string, Record<string, unknown> | (() => Record<string, unknown>)][] = [
    ['roles array', { roles: ['Reviewer', 'App'] }],
    ['role string', { role: 'Admin' }],
    ['the ASP.NET role claim as a string', { [ASPNET_ROLE]: 'App' }],
    ['the ASP.NET role claim as an array', { [ASPNET_ROLE]: ['Reviewer', 'Admin'] }],
    ['expired within the 30 s tolerance', () => ({ roles: ['Admin'], exp: now() - 10 })],
  ];
  it.each(cases)('%s', async (_name, claims) => {
    const res = await schedule(t, `Bearer ${token(typeof claims === 'function' ? claims() : claims)}`);
    expect(res.status).toBe(200);
  });

  it('takes the bearer scheme in any case', async () => {
    expect((await schedule(t, `bearer ${adminToken()}`)).status).toBe(200);
  });
});

describe('issuer and audience when configured', () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway({ HOSTS_FILE: hostsFile(), JWT_ISSUER: 'https://idp.test', JWT_AUDIENCE: 'scan-gateway' }, { runner: false });
    gateways.push(g);
  });

  it('accepts the configured pair and refuses others', async () => {
    expect((await schedule(g, `Bearer ${token({ roles: ['Admin'], iss: 'https://idp.test', aud: 'scan-gateway' })}`)).status).toBe(200);
    expect401(await schedule(g, `Bearer ${token({ roles: ['Admin'], iss: 'https://evil.test', aud: 'scan-gateway' })}`));
    expect401(await schedule(g, `Bearer ${token({ roles: ['Admin'], iss: 'https://idp.test', aud: 'other' })}`));
    expect401(await schedule(g, `Bearer ${token({ roles: ['Admin'], iss: 'https://idp.test' })}`));
  });
});

describe('token headers an attacker controls', () => {
  it('never fetches a key from jku or x5u, nor looks one up by kid', async () => {
    let fetched = 0;
    const { createServer } = await import('node:http');
    const attacker = createServer((_req, res) => {
      fetched++;
      res.end('{}');
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    const where = `http://127.0.0.1:${(attacker.address() as { port: number }).port}/jwks.json`;
    const claims = { sub: 'x', roles: ['Admin'], exp: now() + 600 };
    const evilKey = 'attacker-secret-attacker-secret-attacker';
    for (const header of [{ alg: 'HS256', jku: where }, { alg: 'HS256', x5u: where }, { alg: 'HS256', kid: '../../../../etc/passwd' }, { alg: 'HS256', kid: "' OR 1=1 --" }, { alg: 'HS256', jwk: { kty: 'oct', k: Buffer.from(evilKey).toString('base64url') } }]) {
      expect401(await schedule(t, `Bearer ${rawToken(header, claims, evilKey)}`));
    }
    // With our own key the header's extras change nothing: the signature is what counts.
    expect((await schedule(t, `Bearer ${rawToken({ alg: 'HS256', kid: '../../etc/passwd', jku: where }, claims)}`)).status).toBe(200);
    expect(fetched).toBe(0);
    attacker.close();
  });
});

describe('JWT_MAX_AGE_S', () => {
  it('refuses tokens issued too long ago, and tokens without iat', async () => {
    const g = await startTestGateway({ HOSTS_FILE: hostsFile(), JWT_MAX_AGE_S: '3600' }, { runner: false });
    gateways.push(g);
    expect((await schedule(g, `Bearer ${token({ roles: ['Admin'], iat: now() - 60 })}`)).status).toBe(200);
    const old = await schedule(g, `Bearer ${token({ roles: ['Admin'], iat: now() - 7200, exp: now() + 600 })}`);
    expect401(old);
    expect(old.headers.get('www-authenticate')).toContain('older than this gateway accepts');
    expect401(await schedule(g, `Bearer ${rawToken({ alg: 'HS256' }, { sub: 'x', roles: ['Admin'], exp: now() + 600 })}`));
  });
});

describe('public keys', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = (k: typeof rsa.publicKey) => k.export({ type: 'spki', format: 'pem' }).toString();
  const claims = () => ({ sub: 'svc', roles: ['App'], exp: now() + 600 });

  it('RS256: verifies RS256 tokens and refuses HS256 tokens keyed with the public key (algorithm confusion)', async () => {
    const g = await startTestGateway({ HOSTS_FILE: hostsFile(), JWT_SECRET: '', JWT_PUBLIC_KEY: pem(rsa.publicKey) }, { runner: false });
    gateways.push(g);
    expect((await schedule(g, `Bearer ${jwt.sign(claims(), rsa.privateKey, { algorithm: 'RS256' })}`)).status).toBe(200);
    expect401(await schedule(g, `Bearer ${rawToken({ alg: 'HS256', typ: 'JWT' }, claims(), pem(rsa.publicKey))}`));
    expect401(await schedule(g, `Bearer ${token({ roles: ['Admin'] })}`));
    expect401(await schedule(g, `Bearer ${jwt.sign(claims(), rsa.privateKey, { algorithm: 'RS512' })}`));
  });

  it('ES256: verifies ES256 tokens only', async () => {
    const g = await startTestGateway({ HOSTS_FILE: hostsFile(), JWT_SECRET: '', JWT_PUBLIC_KEY: pem(ec.publicKey) }, { runner: false });
    gateways.push(g);
    expect((await schedule(g, `Bearer ${jwt.sign(claims(), ec.privateKey, { algorithm: 'ES256' })}`)).status).toBe(200);
    expect401(await schedule(g, `Bearer ${jwt.sign(claims(), rsa.privateKey, { algorithm: 'RS256' })}`));
  });
});

describe('logs', () => {
  it('never carry a token', async () => {
    const secretish = adminToken();
    await schedule(t, `Bearer ${secretish}`);
    await schedule(t, `Bearer ${secretish}x`);
    const text = t.logs.join('');
    expect(text).toContain('"traceId"');
    expect(text).not.toContain(secretish.split('.')[2]);
  });
});
