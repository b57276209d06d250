import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/gateway';
import { HOSTS, hostsFile } from './support/hosts';
import { gql } from './support/graphql';
import { call } from './support/http';

// A real OpenID Provider (oidc-provider) on a loopback port, issuing JWT access tokens by the
// client-credentials grant; the gateway finds its keys by discovery, maps its roles, follows its key
// rotation and fails closed when it goes away.

const AUDIENCE = 'urn:scan-gateway';
const SECRET = randomBytes(24).toString('hex');
const newKey = (kid: string) => ({ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' });

async function startProvider(port: number, keys: object[]): Promise<{ server: Server; issuer: string; port: number }> {
  const { Provider } = await import('oidc-provider');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${actual}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'scanner', client_secret: SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'ES256' }],
    jwks: { keys: keys as never },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        getResourceServerInfo: () => ({ scope: 'scan', audience: AUDIENCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
      },
    },
    extraTokenClaims: () => ({ realm_access: { roles: ['scan-admins', 'other'] } }),
  });
  server.on('request', provider.callback());
  return { server, issuer, port: actual };
}

const close = (server: Server) => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });

async function accessToken(issuer: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`scanner:${SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'scan', resource: AUDIENCE }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  expect(body).toHaveProperty('access_token');
  return body.access_token!;
}

describe('an external OpenID Provider', () => {
  let provider: Awaited<ReturnType<typeof startProvider>>;
  let t: TestGateway;
  const first = newKey('first');
  beforeAll(async () => {
    provider = await startProvider(0, [first]);
    t = await startTestGateway(
      { HOSTS_FILE: hostsFile(), JWT_OIDC_ISSUER: provider.issuer, JWT_AUDIENCE: AUDIENCE, JWT_ROLES_CLAIM: 'realm_access.roles', JWT_ROLE_MAP: 'scan-admins=Admin', JWT_JWKS_COOLDOWN_MS: '0', JWT_MAX_AGE_S: '600' },
      { runner: false },
    );
  });
  afterAll(async () => {
    await t?.stop();
    if (provider?.server.listening) await close(provider.server);
  });
  const schedule = (token: string) => call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { method: 'POST', token, body: [HOSTS.alpha.id] });

  it('accepts its client-credentials token, with roles from the configured claim path and map', async () => {
    const token = await accessToken(provider.issuer);
    expect(jwt.decode(token, { complete: true })!.header).toMatchObject({ alg: 'ES256', kid: 'first' });
    expect((await schedule(token)).status).toBe(200);
    // Admin-only: `scan-admins` was mapped onto Admin ('other' onto nothing).
    const audit = await gql(t.url, token, '{ auditRecords(first: 1) { nodes { id } } }');
    expect(audit.body.errors).toBeUndefined();
    expect(audit.body.data.auditRecords.nodes).toEqual(expect.any(Array));
  });

  it('refuses a token signed by a key outside its JWKS, and alg confusion with its public key', async () => {
    const claims = { sub: 'x', iss: provider.issuer, aud: AUDIENCE, realm_access: { roles: ['scan-admins'] } };
    const outsider = newKey('first');
    const { kid: _k, alg: _a, use: _u, ...jwk } = outsider;
    const forged = jwt.sign(claims, (await import('node:crypto')).createPrivateKey({ key: jwk as never, format: 'jwk' }), { algorithm: 'ES256', keyid: 'first', expiresIn: 300 });
    expect((await schedule(forged)).status).toBe(401);
    const unknownKid = jwt.sign(claims, (await import('node:crypto')).createPrivateKey({ key: jwk as never, format: 'jwk' }), { algorithm: 'ES256', keyid: 'outsider', expiresIn: 300 });
    const refused = await schedule(unknownKid);
    expect(refused.status).toBe(401);
    expect(refused.json.detail).toBe('The bearer token is signed with a key the identity provider does not publish.');
    const { d: _d, ...publicJwk } = first;
    const pem = (await import('node:crypto')).createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const confused = jwt.sign(claims, pem, { algorithm: 'HS256', keyid: 'first', expiresIn: 300, allowInsecureKeySizes: true } as jwt.SignOptions);
    expect((await schedule(confused)).status).toBe(401);
  });

  it('applies JWT_MAX_AGE_S to its tokens: one issued too long ago is refused on every use, never remembered', async () => {
    const { kid: _k, alg: _a, use: _u, ...jwk } = first;
    const signer = (await import('node:crypto')).createPrivateKey({ key: jwk as never, format: 'jwk' });
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'x', iss: provider.issuer, aud: AUDIENCE, realm_access: { roles: ['scan-admins'] }, exp: now + 600 };
    // Signed with the provider's own published key, so only its age can be wrong.
    const old = jwt.sign({ ...claims, iat: now - 3600 }, signer, { algorithm: 'ES256', keyid: 'first' });
    for (const use of ['first', 'second']) {
      const refused = await schedule(old);
      expect(refused.status, `${use} use`).toBe(401);
      expect(refused.json.detail).toBe('The bearer token is older than this gateway accepts.');
    }
    const undated = jwt.sign(claims, signer, { algorithm: 'ES256', keyid: 'first', noTimestamp: true });
    expect((await schedule(undated)).json.detail).toMatch(/no issue time \(iat\)/);
    expect((await schedule(jwt.sign({ ...claims, iat: now - 60 }, signer, { algorithm: 'ES256', keyid: 'first' }))).status).toBe(200);
  });

  it('follows a key rotation at the provider, then fails closed (401, readiness says why) when it goes away', async () => {
    const before = await accessToken(provider.issuer);
    await close(provider.server);
    provider = await startProvider(provider.port, [newKey('second'), first]);
    const rotated = await accessToken(provider.issuer);
    expect(jwt.decode(rotated, { complete: true })!.header.kid).toBe('second');
    expect((await schedule(rotated)).status).toBe(200);
    expect((await schedule(before)).status).toBe(200);
    // Gone: a key the gateway has not seen cannot be checked, so its token is refused; nothing crashes.
    const third = newKey('third');
    const { kid: _k, alg: _a, use: _u, ...jwk } = third;
    const unseen = jwt.sign({ sub: 'x', iss: provider.issuer, aud: AUDIENCE }, (await import('node:crypto')).createPrivateKey({ key: jwk as never, format: 'jwk' }), { algorithm: 'ES256', keyid: 'third', expiresIn: 300 });
    await close(provider.server);
    const refused = await schedule(unseen);
    expect(refused.status).toBe(401);
    expect(refused.json.detail).toMatch(/cannot be reached/);
    const ready = await call(`${t.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json.reason).toMatch(/could not be fetched/);
    expect((await call(`${t.url}/health/live`)).status).toBe(200);
  });
});

describe('JWT_JWKS_URL without discovery', () => {
  it('verifies the provider’s tokens with the keys at that URL, checking JWT_ISSUER', async () => {
    const provider = await startProvider(0, [newKey('only')]);
    const env = { HOSTS_FILE: hostsFile(), JWT_JWKS_URL: `${provider.issuer}/jwks`, JWT_AUDIENCE: AUDIENCE, JWT_ROLES_CLAIM: 'realm_access.roles', JWT_ROLE_MAP: 'scan-admins=App' };
    const right = await startTestGateway({ ...env, JWT_ISSUER: provider.issuer }, { runner: false });
    const wrong = await startTestGateway({ ...env, JWT_ISSUER: 'https://elsewhere.example' }, { runner: false });
    try {
      const token = await accessToken(provider.issuer);
      const post = (g: TestGateway) => call(`${g.url}/api/v1/HostScanJob/ByHostIdMultiple`, { method: 'POST', token, body: [HOSTS.alpha.id] });
      expect((await post(right)).status).toBe(200);
      const refused = await post(wrong);
      expect(refused.status).toBe(401);
      expect(refused.json.detail).toBe('The bearer token was issued by an issuer this gateway does not accept.');
    } finally {
      await Promise.all([right.stop(), wrong.stop()]);
      await close(provider.server);
    }
  });
});
