import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeyPath } from '../src/secrets';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { token } from './support/tokens';

// NODE_ENV=production without CREDENTIALS_KEY, against the real gateway: it runs, refuses to store a
// credential saying what to set, and makes no development key behind the operator's back.

describe('production without CREDENTIALS_KEY', () => {
  let t: TestGateway;
  const secret = `prod-secret-${Date.now().toString(36)}-Zq9`;
  const admin = () => token({ roles: ['Admin'], sub: 'admin-1', iss: 'https://idp.test', aud: 'gw' });

  beforeAll(async () => {
    t = await startTestGateway({ NODE_ENV: 'production', JWT_ISSUER: 'https://idp.test', JWT_AUDIENCE: 'gw' }, { runner: false });
  });
  afterAll(() => t?.stop());

  it('starts, answers createCredential UNAVAILABLE naming CREDENTIALS_KEY (never the secret), and writes no key file', async () => {
    expect((await fetch(`${t.url}/health/ready`)).status).toBe(200);
    const res = await gql(t.url, admin(), 'mutation($input: CreateCredentialInput!) { createCredential(input: $input) { id } }',
      { input: { name: 'prod', kind: 'SshPassword', username: 'scanner', password: secret } });
    expect(res.body.data).toBeNull();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0]).toMatchObject({ extensions: { code: 'UNAVAILABLE' }, message: expect.stringContaining('CREDENTIALS_KEY is not set') });
    // Nothing was stored, and reads still work.
    expect((await gql(t.url, admin(), '{ credentials { nodes { id } } }')).body).toEqual({ data: { credentials: { nodes: [] } } });
    expect(JSON.stringify(res.body) + t.logs.join('')).not.toContain(secret);
    expect(t.logs.join('')).toMatch(/CREDENTIALS_KEY is not set/);
    expect(existsSync(devKeyPath(t.dataDir))).toBe(false);
    expect(readdirSync(t.dataDir).filter((f) => f.includes('key'))).toEqual([]);
  });
});
