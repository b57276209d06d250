import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../src/auth-secrets';
import { SecretKey } from '../src/secrets';
import { startTestGateway, type TestGateway } from './support/gateway';
import { until } from './support/wait';
import { gql } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { gatewayBackends } from './support/postgres';
import { adminToken, appToken } from './support/tokens';

// Signing-key rotation with an overlap, driven by TOKEN_KEY_ROTATE_DAYS set short for the test (0.0003
// days is 25.9 s: the next key is published 6.5 s before it signs) and the shortest token lifetime (60 s:
// the old key verifies for 90 s after its successor signs). Nothing waits for a time: every wait is on
// something the gateway shows (its JWKS, the kid it signs with), with a deadline that says what it waited for.

const PERIOD_DAYS = 0.0003;
const PERIOD_MS = PERIOD_DAYS * 86_400_000;

const schedule = (g: TestGateway, token: string) =>
  call(`${g.url}/api/v1/HostScanJob/ByHostIdMultiple`, { method: 'POST', token, body: [HOSTS.alpha.id] });
const subjectOf = () => `00000000-0000-4000-8000-${randomBytes(6).toString('hex')}`;
const kidOf = (token: string) => jwt.decode(token, { complete: true })!.header.kid!;
const issue = async (g: TestGateway) => (await g.gateway.tokens.issue({ subject: subjectOf(), name: 'x', roles: ['Admin'], version: 0 })).token;
const jwksKids = async (g: TestGateway): Promise<string[]> => (await call(`${g.url}/.well-known/jwks.json`)).json.keys.map((k: { kid: string }) => k.kid);

/** The private halves (JWK `d`) of every stored key, opened as the gateway would: to show that none leaks. */
async function privateHalves(g: TestGateway, credentialsKey: string): Promise<string[]> {
  const sealer = createSealer(new SecretKey(Buffer.from(credentialsKey, 'base64')));
  const records = await g.gateway.store.signingKeys.list();
  return records.map((r) => (JSON.parse(sealer.open(r.privateSealed, 'token-signing-key')) as { d: string }).d);
}

for (const backend of gatewayBackends()) {
  const instances = backend.name === 'PostgreSQL' ? 2 : 1;

  describe.skipIf(!backend.available)(`scheduled rotation, ${backend.name}, ${instances} instance(s)`, () => {
    const gs: TestGateway[] = [];
    let drop: () => Promise<void>;
    const credentialsKey = randomBytes(32).toString('base64');
    beforeAll(async () => {
      const { env, drop: d } = await backend.env();
      drop = d;
      const all = { ...env, HOSTS_FILE: hostsFile(), CREDENTIALS_KEY: credentialsKey, TOKEN_KEY_ROTATE_DAYS: String(PERIOD_DAYS), TOKEN_TTL_S: '60' };
      // One after the other: instances starting together both seed HOSTS_FILE, and one may find the other's host.
      for (let n = 0; n < instances; n++) gs.push(await startTestGateway(all, { runner: false }));
    });
    afterAll(async () => {
      await Promise.all(gs.map((g) => g.stop()));
      await drop?.();
    });

    it('publishes the next key before it signs, verifies the old one through the overlap, retires it, and rotates once a period', { timeout: 400_000 }, async () => {
      const [first] = await jwksKids(gs[0]!);
      for (const g of gs) expect(await jwksKids(g)).toEqual([first]);
      const maxAge = Number(/max-age=(\d+)/.exec((await call(`${gs[0]!.url}/.well-known/jwks.json`)).headers.get('cache-control') ?? '')?.[1]);
      expect(maxAge * 1000).toBeLessThan(PERIOD_MS / 4);

      // Tokens from one instance, the JWKS from another (read first): the next key must be in a JWKS
      // while the old one still signs.
      let publishedEarly = false;
      let lastOld = '';
      let i = 0;
      const firstNew = await until('a token signed by the next key', async () => {
        const kids = await jwksKids(gs[i % gs.length]!);
        const token = await issue(gs[++i % gs.length]!);
        if (kidOf(token) !== first) return token;
        lastOld = token;
        if (kids.some((k) => k !== first)) publishedEarly = true;
        return undefined;
      }, { timeoutMs: PERIOD_MS + 60_000, everyMs: 100 });
      expect(publishedEarly, 'the next key was in the JWKS while the old one still signed').toBe(true);
      const second = kidOf(firstNew);
      expect(lastOld).not.toBe('');

      // Through the overlap: the last token of the old key, never seen before, works on every instance;
      // the new key's token too. Both keys are published.
      for (const g of gs) {
        expect((await schedule(g, lastOld)).status).toBe(200);
        expect((await schedule(g, firstNew)).status).toBe(200);
        expect(await jwksKids(g)).toEqual(expect.arrayContaining([first, second]));
      }

      // Retirement: the old key leaves every JWKS, and its tokens are refused everywhere.
      await until(`the first key ${first} to retire from every instance's JWKS`, async () =>
        (await Promise.all(gs.map(jwksKids))).every((kids) => !kids.includes(first!)), { timeoutMs: 90_000 + 60_000, everyMs: 100 });
      const stillNew = await issue(gs[0]!);
      for (const g of gs) {
        expect((await schedule(g, lastOld)).status).toBe(401);
        expect((await schedule(g, stillNew)).status).toBe(200);
      }

      // Once a period: every key has exactly one successor, each signing a whole period after it.
      const rotations = (await gs[0]!.gateway.store.audit.list({ action: 'signing-key.rotate', limit: 100, beforeId: null }))
        .map((r) => r.details as { previousKid: string; signsFrom: string; reason: string })
        .sort((x, y) => Date.parse(x.signsFrom) - Date.parse(y.signsFrom));
      expect(rotations.length).toBeGreaterThanOrEqual(2);
      expect(new Set(rotations.map((r) => r.previousKid)).size, JSON.stringify(rotations)).toBe(rotations.length);
      expect(rotations[0]!.previousKid).toBe(first);
      for (const [n, r] of rotations.entries()) {
        expect(r.reason).toBe('scheduled');
        if (n > 0) expect(Date.parse(r.signsFrom) - Date.parse(rotations[n - 1]!.signsFrom)).toBeGreaterThanOrEqual(PERIOD_MS);
      }

      // No private half anywhere: JWKS, GraphQL, metrics, logs.
      const secrets = await privateHalves(gs[0]!, credentialsKey);
      expect(secrets.length).toBeGreaterThanOrEqual(2);
      const listed = await gql(gs[0]!.url, adminToken(), '{ signingKeys { kid state signsFrom retiresAt } }');
      const shown = [JSON.stringify(listed.body), ...(await Promise.all(gs.map(async (g) => JSON.stringify((await call(`${g.url}/.well-known/jwks.json`)).json)))),
        ...(await Promise.all(gs.map(async (g) => (await call(`${g.url}/metrics`)).text))), ...gs.flatMap((g) => g.logs)].join('\n');
      for (const d of secrets) expect(shown).not.toContain(d);
      expect(shown).toContain('token signing key rotated');
    });
  });

  describe.skipIf(!backend.available)(`rotateSigningKey, ${backend.name}`, () => {
    let g: TestGateway;
    let drop: () => Promise<void>;
    const credentialsKey = randomBytes(32).toString('base64');
    beforeAll(async () => {
      const { env, drop: d } = await backend.env();
      drop = d;
      // Rotation on request only: the next key signs after a day's lead.
      g = await startTestGateway({ ...env, HOSTS_FILE: hostsFile(), CREDENTIALS_KEY: credentialsKey, TOKEN_KEY_ROTATE_DAYS: '0' }, { runner: false });
    });
    afterAll(async () => {
      await g?.stop();
      await drop?.();
    });

    const ROTATE = 'mutation { rotateSigningKey { kid state signsFrom retiresAt } }';

    it('is Admin only, publishes a next key without signing with it, is audited, and refuses a second while one waits', async () => {
      const [first] = await jwksKids(g);
      const refused = await gql(g.url, appToken(), ROTATE);
      expect(refused.body.errors[0].extensions.code).toBe('FORBIDDEN');
      expect(await jwksKids(g)).toEqual([first]);

      const before = Date.now();
      const rotated = await gql(g.url, adminToken(), ROTATE);
      expect(rotated.body.errors).toBeUndefined();
      const next = rotated.body.data.rotateSigningKey;
      expect(next).toMatchObject({ state: 'next', retiresAt: null });
      expect(Date.parse(next.signsFrom)).toBeGreaterThanOrEqual(before + 86_400_000 - 1000);
      expect(await jwksKids(g)).toEqual([next.kid, first]);
      expect(kidOf(await issue(g))).toBe(first);

      const listed = await gql(g.url, adminToken(), '{ signingKeys { kid state retiresAt } }');
      expect(listed.body.data.signingKeys).toEqual([
        { kid: next.kid, state: 'next', retiresAt: null },
        { kid: first, state: 'signing', retiresAt: expect.any(String) },
      ]);

      const again = await gql(g.url, adminToken(), ROTATE);
      expect(again.body.errors[0].extensions.code).toBe('CONFLICT');
      expect(again.body.errors[0].message).toContain(next.kid);
      expect(await jwksKids(g)).toEqual([next.kid, first]);

      const [record] = await g.gateway.store.audit.list({ action: 'signing-key.rotate', limit: 10, beforeId: null });
      expect(record).toMatchObject({ subject: 'admin-1', target: next.kid, details: { previousKid: first, reason: 'requested' } });
      const shown = [JSON.stringify(rotated.body), JSON.stringify(listed.body), JSON.stringify(record), ...g.logs].join('\n');
      for (const d of await privateHalves(g, credentialsKey)) expect(shown).not.toContain(d);
    });
  });
}
