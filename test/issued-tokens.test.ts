import { createPublicKey, randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASPNET_ROLE_CLAIM } from '../src/auth';
import type { KeyRing } from '../src/token-keys';
import { startTestGateway, type TestGateway } from './support/gateway';
import { HOSTS, hostsFile } from './support/hosts';
import { collect, wsClient } from './support/graphql';
import { call } from './support/http';
import { createDatabase, postgresAdminUrl } from './support/postgres';

// The gateway's own ES256 tokens: keys made at first start and kept in the store (sealed), published as
// a JWKS, accepted beside JWT_SECRET, revoked through the account's token version.

const gateways: TestGateway[] = [];
afterAll(() => Promise.all(gateways.map((g) => g.stop())));

const schedule = (g: TestGateway, token: string) =>
  call(`${g.url}/api/v1/HostScanJob/ByHostIdMultiple`, { method: 'POST', token, body: [HOSTS.alpha.id] });
const subjectOf = () => `00000000-0000-4000-8000-${randomBytes(6).toString('hex')}`;

describe('embedded store', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ HOSTS_FILE: hostsFile() }, { runner: false });
    gateways.push(t);
  });

  it('publishes its key and signs ES256 tokens with sub, roles, ASP.NET roles, exp, iat and jti (15 minutes)', async () => {
    const jwks = await call(`${t.url}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(jwks.json.keys).toHaveLength(1);
    const [key] = jwks.json.keys;
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
    expect(key).not.toHaveProperty('d');
    const { token } = await t.gateway.tokens.issue({ subject: subjectOf(), name: 'alice', roles: ['Admin'], version: 0 });
    const decoded = jwt.verify(token, createPublicKey({ key, format: 'jwk' }), { algorithms: ['ES256'] }) as jwt.JwtPayload;
    expect(jwt.decode(token, { complete: true })!.header).toMatchObject({ alg: 'ES256', kid: key.kid });
    expect(decoded).toMatchObject({ name: 'alice', roles: ['Admin'], [ASPNET_ROLE_CLAIM]: ['Admin'], iss: 'scan-gateway', aud: 'scan-gateway' });
    expect(decoded.exp! - decoded.iat!).toBe(900);
    expect(decoded.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect((await schedule(t, token)).status).toBe(200);
  });

  it('refuses a tampered token, alg confusion with its public key, and a pre-MFA token', async () => {
    const { token } = await t.gateway.tokens.issue({ subject: subjectOf(), name: 'app', roles: ['App'], version: 0 });
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, roles: ['Admin'] })).toString('base64url')}.${s}`;
    expect((await schedule(t, tampered)).status).toBe(401);
    const key = (await call(`${t.url}/.well-known/jwks.json`)).json.keys[0];
    const pem = createPublicKey({ key, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const confused = jwt.sign({ ...payload, roles: ['Admin'] }, pem, { algorithm: 'HS256', keyid: key.kid, allowInsecureKeySizes: true } as jwt.SignOptions);
    expect((await schedule(t, confused)).status).toBe(401);
    const pre = await t.gateway.tokens.issuePreMfa(subjectOf(), 'binding');
    const refused = await schedule(t, pre.token);
    expect(refused.status).toBe(401);
    expect(refused.json.detail).toMatch(/only completes a sign-in/);
  });

  it('honours a token only while its version is the account’s, even after the first sight of it', async () => {
    const subject = subjectOf();
    const { token } = await t.gateway.tokens.issue({ subject, name: 'bob', roles: ['Admin'], version: 0 });
    expect((await schedule(t, token)).status).toBe(200);
    t.gateway.tokens.setVersion(subject, 1);
    const revoked = await schedule(t, token);
    expect(revoked.status).toBe(401);
    expect(revoked.json.detail).toBe('The bearer token has been revoked.');
    const { token: fresh } = await t.gateway.tokens.issue({ subject, name: 'bob', roles: ['Admin'], version: 1 });
    expect((await schedule(t, fresh)).status).toBe(200);
    t.gateway.tokens.setVersion(subject, -1);
    expect((await schedule(t, fresh)).status).toBe(401);
  });

  it('applies JWT_MAX_AGE_S to its own tokens: one issued too long ago is refused on every use', async () => {
    const aged = await startTestGateway({ HOSTS_FILE: hostsFile(), JWT_MAX_AGE_S: '600' }, { runner: false });
    gateways.push(aged);
    // Its own signing key, reached past `private`: an issued token is always new, and only age is under test.
    const key = (aged.gateway.tokens as unknown as { keys: KeyRing }).keys.signer()!;
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: subjectOf(), roles: ['Admin'], ver: 0, iss: 'scan-gateway', aud: 'scan-gateway', exp: now + 600 };
    const old = jwt.sign({ ...claims, iat: now - 3600 }, key.privateKey!, { algorithm: 'ES256', keyid: key.kid });
    for (const use of ['first', 'second']) {
      const refused = await schedule(aged, old);
      expect(refused.status, `${use} use`).toBe(401);
      expect(refused.json.detail).toBe('The bearer token is older than this gateway accepts.');
    }
    const undated = jwt.sign(claims, key.privateKey!, { algorithm: 'ES256', keyid: key.kid, noTimestamp: true });
    expect((await schedule(aged, undated)).json.detail).toMatch(/no issue time \(iat\)/);
    const { token } = await aged.gateway.tokens.issue({ subject: subjectOf(), name: 'new', roles: ['Admin'], version: 0 });
    expect((await schedule(aged, token)).status).toBe(200);
  });

  it('keeps its key across a restart, sealed in the store', async () => {
    const dataDir = t.dataDir;
    const kid = t.gateway.tokens.jwks().keys[0]!.kid;
    const { token } = await t.gateway.tokens.issue({ subject: subjectOf(), name: 'x', roles: ['Admin'], version: 0 });
    const raw = await t.gateway.store.signingKeys.list();
    expect(raw[0]!.privateSealed).toMatch(/^[0-9a-f]{16}:v1\./);
    expect(raw[0]!.privateSealed).not.toContain((await import('node:fs')).readFileSync(`${dataDir}/credentials.key`, 'utf8'));
    await t.gateway.stop();
    const again = await startTestGateway({ HOSTS_FILE: hostsFile() }, { runner: false, dataDir });
    gateways.push(again);
    expect(again.gateway.tokens.jwks().keys.map((k) => k.kid)).toEqual([kid]);
    expect((await schedule(again, token)).status).toBe(200);
    t = again;
  });
});

describe.skipIf(!postgresAdminUrl())('two instances on PostgreSQL', () => {
  let a: TestGateway;
  let b: TestGateway;
  let drop: () => Promise<void>;
  let url: string;
  beforeAll(async () => {
    const db = await createDatabase();
    drop = db.drop;
    url = db.url;
    const env = { HOSTS_FILE: hostsFile(), DATABASE_URL: db.url, CREDENTIALS_KEY: randomBytes(32).toString('base64') };
    [a, b] = await Promise.all([startTestGateway(env, { runner: false }), startTestGateway(env, { runner: false })]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await drop?.();
  });

  it('share one key: a token one issues the other honours', async () => {
    expect(a.gateway.tokens.jwks()).toEqual(b.gateway.tokens.jwks());
    const { token } = await a.gateway.tokens.issue({ subject: subjectOf(), name: 'x', roles: ['Admin'], version: 0 });
    expect((await schedule(b, token)).status).toBe(200);
  });

  it('revoke on both: a user disabled on one instance loses its token and socket on the other', async () => {
    const admin = { subject: 'admin-1', userName: 'Ada', roles: new Set(['Admin'] as const), expiresAt: Infinity };
    const user = await a.gateway.accounts.createUser(admin, { login: `both-${randomBytes(3).toString('hex')}`, password: 'a long enough password', roles: ['Admin'] });
    const { token } = await a.gateway.tokens.issue({ subject: user.id, name: user.login, roles: user.roles, version: 0 });
    expect((await schedule(b, token)).status).toBe(200);
    const client = wsClient(b.url, { token });
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    const closed = new Promise<unknown>((resolve) => client.on('closed', resolve));
    collect(client, 'subscription { hostScanJobStatus { id } }').done.catch(() => {});
    await connected;
    await a.gateway.accounts.setDisabled(admin, user.id, true);
    // NOTIFY arrives at B after A's commit: wait for it, not for a time.
    expect(await closed).toMatchObject({ code: 4403, reason: 'Token revoked' });
    expect((await schedule(b, token)).status).toBe(401);
    expect((await schedule(a, token)).status).toBe(401);
    await client.dispose();
  });

  it('with another CREDENTIALS_KEY than the one that sealed the key: verifies the shared tokens, issues none, says why', async () => {
    const c = await startTestGateway({ HOSTS_FILE: hostsFile(), DATABASE_URL: url, CREDENTIALS_KEY: randomBytes(32).toString('base64') }, { runner: false });
    try {
      const { token } = await a.gateway.tokens.issue({ subject: subjectOf(), name: 'x', roles: ['Admin'], version: 0 });
      expect((await schedule(c, token)).status).toBe(200);
      await expect(c.gateway.tokens.issue({ subject: subjectOf(), name: 'y', roles: ['Admin'], version: 0 }))
        .rejects.toThrow(/does not open the signing key another instance sealed/);
      expect(c.logs.some((l) => /cannot open the token signing key/.test(l))).toBe(true);
    } finally {
      await c.stop();
    }
  });
});
