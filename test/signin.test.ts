import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../src/audit';
import { totpCode } from '../src/totp';
import { gatewayBackends, gatewayOn } from './support/backends';
import { CookieJar } from './support/cookie-jar';
import { startTestGateway, type TestGateway } from './support/gateway';
import { collect, gql, wsClient } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';

// Sign-in the way the vendor's scripts do it, end to end over HTTP with a cookie jar, on both stores.

const ADMIN: Caller = { subject: 'admin-1', userName: 'Ada', roles: new Set(['Admin']), expiresAt: Infinity };
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

/** fetch that keeps cookies in `jar`; returns status, headers, text and parsed JSON. */
async function send(jar: CookieJar | null, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await fetch(url, { method: init.method ?? (init.body === undefined ? 'GET' : 'POST'), headers: { ...jar?.header(), ...init.headers }, body: init.body });
  jar?.take(res.headers);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
const jsonBody = (value: unknown, token?: string) => ({
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(value),
});

for (const backend of gatewayBackends) {
  describe.skipIf(!backend.available)(`sign-in: ${backend.name}`, () => {
    const gateway = gatewayOn(backend, { HOSTS_FILE: hostsFile() });
    let t: TestGateway;
    beforeAll(() => {
      t = gateway();
    });
    const bodies: string[] = [];

    const newUser = async (roles = ['Admin']) => {
      const login = `u-${randomBytes(4).toString('hex')}`;
      const user = await t.gateway.accounts.createUser(ADMIN, { login, password: PASSWORD, roles });
      return { login, id: user.id };
    };
    const schedule = async (token: string) => {
      const res = await send(null, `${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, jsonBody([HOSTS.alpha.id], token));
      bodies.push(res.text);
      return res;
    };
    /** /signinBody, then (first time) enrolment; returns the pre-MFA token and the seed. */
    const firstStep = async (jar: CookieJar, login: string, password = PASSWORD) => {
      const res = await send(jar, `${t.url}/signinBody`, jsonBody({ Login: login, Password: password }));
      bodies.push(res.text);
      return res;
    };
    const enrol = async (jar: CookieJar, pre: string) => {
      const res = await send(jar, `${t.url}/signin2fa/enrol`, { method: 'POST', headers: { authorization: `Bearer ${pre}` } });
      bodies.push(res.text);
      expect(res.status).toBe(200);
      expect(res.json.uri).toMatch(/^otpauth:\/\/totp\/Scan%20Gateway:/);
      return new URL(res.json.uri).searchParams.get('secret')!;
    };
    const secondStep = async (jar: CookieJar, pre: string, code: string, path = '/sigin2fa') => {
      const res = await send(jar, `${t.url}${path}`, jsonBody(code, pre));
      bodies.push(res.text);
      return res;
    };

    it("runs the seed's flow: /signinBody → /sigin2fa → ByHostIdMultiple, with a cookie jar", async () => {
      const { login } = await newUser();
      const jar = new CookieJar();
      const first = await firstStep(jar, login);
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toMatch(/^application\/json/);
      expect(typeof first.json).toBe('string');
      expect(first.headers.get('set-cookie')).toMatch(/^MfaSession=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=300; HttpOnly; SameSite=Strict$/);
      const seed = await enrol(jar, first.json);
      const second = await secondStep(jar, first.json, totpCode(seed));
      expect(second.status).toBe(200);
      expect(typeof second.json).toBe('string');
      const claims = JSON.parse(Buffer.from(second.json.split('.')[1], 'base64url').toString());
      expect(claims).toMatchObject({ name: login, roles: ['Admin'], jti: expect.any(String) });
      expect(claims.exp - claims.iat).toBe(900);
      expect((await schedule(second.json)).status).toBe(200);
      // The code is spent: the same code again, even with a fresh first step, is refused.
      const again = await firstStep(jar, login);
      const replay = await secondStep(jar, again.json, totpCode(seed));
      expect(replay.status).toBe(401);
      expect(replay.json.detail).toBe('The code is wrong, expired or already used.');
      // Enrolled: a password alone cannot enrol a new authenticator over it.
      const reenrol = await send(jar, `${t.url}/signin2fa/enrol`, { method: 'POST', headers: { authorization: `Bearer ${again.json}` } });
      expect(reenrol.status).toBe(409);
      expect(reenrol.text).not.toContain('otpauth');
      expect(seed.length).toBeGreaterThan(16);
      expect(bodies.join('\n') + t.logs.join('')).not.toContain(PASSWORD);
      const stored = (await t.gateway.store.accounts.userByLogin(login))!;
      expect(stored.totpSeed).toMatch(/^[0-9a-f]{16}:v1\./);
      expect(stored.totpSeed).not.toContain(seed);
      expect(t.logs.join('')).not.toContain(seed);
    });

    it("runs the module's flow: /signin form (DOMAIN\\user) → /signin2fa → call → /api/v1/UserToken", async () => {
      const { login } = await newUser(['App']);
      const jar = new CookieJar();
      const form = await send(jar, `${t.url}/signin`, {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login: `CORP\\${login}`, password: PASSWORD }).toString(),
      });
      expect(form.status).toBe(200);
      const seed = await enrol(jar, form.json);
      const full = await secondStep(jar, form.json, totpCode(seed), '/signin2fa');
      expect(full.status).toBe(200);
      expect((await schedule(full.json)).status).toBe(200);
      const refreshed = await send(null, `${t.url}/api/v1/UserToken`, { headers: { authorization: `Bearer ${full.json}` } });
      expect(refreshed.status).toBe(200);
      expect(typeof refreshed.json).toBe('string');
      expect(refreshed.json).not.toBe(full.json);
      expect((await schedule(refreshed.json)).status).toBe(200);
      const actions = (await t.gateway.store.audit.list({ limit: 50 })).map((r) => r.action);
      expect(actions).toEqual(expect.arrayContaining(['signin.password', 'totp.enrol', 'totp.confirm', 'signin', 'token.refresh']));
    });

    it('runs the App flow with an API key, and a rotated key stops the old key and its tokens', async () => {
      const { app, apiKey } = await t.gateway.accounts.createApp(ADMIN, { name: `bot-${randomBytes(3).toString('hex')}` });
      const res = await send(null, `${t.url}/WebAppApi/api/v1/AppUserToken`, jsonBody({ login: app.name, password: apiKey }));
      expect(res.status).toBe(200);
      const claims = JSON.parse(Buffer.from(res.json.split('.')[1], 'base64url').toString());
      expect(claims).toMatchObject({ sub: app.id, roles: ['App'] });
      expect((await schedule(res.json)).status).toBe(200);
      await t.gateway.accounts.rotateAppKey(ADMIN, app.id);
      expect((await schedule(res.json)).status).toBe(401);
      const old = await send(null, `${t.url}/WebAppApi/api/v1/AppUserToken`, jsonBody({ login: app.name, password: apiKey }));
      expect(old.status).toBe(401);
      expect(t.logs.join('') + bodies.join('')).not.toContain(apiKey);
    });

    it('answers a wrong password and an unknown user alike, and a disabled one too', async () => {
      const { login, id } = await newUser();
      const wrong = await firstStep(new CookieJar(), login, `${PASSWORD}x`);
      const unknown = await firstStep(new CookieJar(), `nobody-${randomBytes(4).toString('hex')}`);
      await t.gateway.accounts.setDisabled(ADMIN, id, true);
      const disabled = await firstStep(new CookieJar(), login);
      for (const res of [wrong, unknown, disabled]) {
        expect(res.status).toBe(401);
        expect(res.json).toMatchObject({ status: 401, detail: 'The login or password is wrong.' });
        expect(res.headers.get('set-cookie')).toBeNull();
      }
      const failures = (await t.gateway.store.audit.list({ limit: 10, action: 'signin.failure' })).map((r) => r.details.reason);
      expect(failures).toEqual(expect.arrayContaining(['password', 'unknown', 'disabled']));
    });

    it('refuses wrong codes, a missing or foreign cookie, and binds property names in any case', async () => {
      const { login } = await newUser();
      const jar = new CookieJar();
      const first = await send(jar, `${t.url}/signinBody`, jsonBody({ LOGIN: login, password: PASSWORD }));
      expect(first.status).toBe(200);
      const seed = await enrol(jar, first.json);
      const code = totpCode(seed);
      const wrongCode = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      expect((await secondStep(jar, first.json, wrongCode)).status).toBe(401);
      expect((await secondStep(jar, first.json, totpCode(seed, Date.now() - 120_000))).status).toBe(401);
      expect((await secondStep(new CookieJar(), first.json, code)).status).toBe(401);
      const other = new CookieJar();
      await firstStep(other, login);
      expect((await secondStep(other, first.json, code)).status).toBe(401);
      // Nothing above spent the code.
      expect((await secondStep(jar, first.json, code)).status).toBe(200);
    });

    it('answers a body of the wrong shape with 400, counting no failure', async () => {
      const before = (await t.gateway.store.audit.list({ limit: 500, action: 'signin.failure' })).length;
      for (const body of [['alice', PASSWORD], 'alice', 42, null]) {
        const res = await send(null, `${t.url}/signinBody`, jsonBody(body));
        expect(res.status).toBe(400);
        expect(res.json).toMatchObject({ status: 400, errors: { $: [expect.stringMatching(/Login and Password/)] } });
      }
      const { login } = await newUser();
      const jar = new CookieJar();
      const first = await firstStep(jar, login);
      const numeric = await secondStep(jar, first.json, 123456 as unknown as string);
      expect(numeric.status).toBe(400);
      expect((await send(null, `${t.url}/WebAppApi/api/v1/AppUserToken`, jsonBody(['x']))).status).toBe(400);
      expect((await t.gateway.store.audit.list({ limit: 500, action: 'signin.failure' })).length).toBe(before);
    });

    it('opens nothing with a pre-MFA token: REST, GraphQL over HTTP, WebSocket', async () => {
      const { login } = await newUser();
      const first = await firstStep(new CookieJar(), login);
      const pre = first.json as string;
      const rest = await schedule(pre);
      expect(rest.status).toBe(401);
      expect(rest.json.detail).toMatch(/only completes a sign-in/);
      expect((await send(null, `${t.url}/api/v1/HostScanJob`, { headers: { authorization: `Bearer ${pre}` } })).status).toBe(401);
      expect((await send(null, `${t.url}/api/v1/UserToken`, { headers: { authorization: `Bearer ${pre}` } })).status).toBe(401);
      const viaGql = await gql(t.url, pre, `mutation { scheduleHostScans(hostIds: ["${HOSTS.alpha.id}"]) { id } }`);
      expect(viaGql.status).toBe(401);
      const client = wsClient(t.url, { token: pre });
      const refused = await collect(client, 'subscription { hostScanJobStatus { id } }').done.catch((event: { code: number }) => event);
      expect(refused).toMatchObject({ code: 4403 });
      await client.dispose();
    });

    it("refuses a disabled user's live token at once", async () => {
      const { login, id } = await newUser();
      const jar = new CookieJar();
      const first = await firstStep(jar, login);
      const seed = await enrol(jar, first.json);
      const full = (await secondStep(jar, first.json, totpCode(seed))).json as string;
      expect((await schedule(full)).status).toBe(200);
      await t.gateway.accounts.setDisabled(ADMIN, id, true);
      const refused = await schedule(full);
      expect(refused.status).toBe(401);
      expect(refused.json.detail).toBe('The bearer token has been revoked.');
      expect((await send(null, `${t.url}/api/v1/UserToken`, { headers: { authorization: `Bearer ${full}` } })).status).toBe(401);
    });
  });
}

describe('MFA turned off by the operator', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ HOSTS_FILE: hostsFile(), SIGNIN_MFA: 'off' }, { runner: false });
  });
  afterAll(() => t?.stop());

  it('gives a full token at the first step, and no MFA cookie', async () => {
    await t.gateway.accounts.createUser(ADMIN, { login: 'nomfa', password: PASSWORD, roles: ['Admin'] });
    const res = await send(null, `${t.url}/signinBody`, jsonBody({ login: 'nomfa', password: PASSWORD }));
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    const scheduled = await send(null, `${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, jsonBody([HOSTS.alpha.id], res.json));
    expect(scheduled.status).toBe(200);
  });
});
