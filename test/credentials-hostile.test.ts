import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayBackends, gatewayOn } from './support/backends';
import { freshDataDir, startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { hostsFile } from './support/hosts';
import { call } from './support/http';
import { sqlOf } from './support/sql';
import { adminToken } from './support/tokens';

// Credentials as a target: oversized and malformed secrets, names that are not text, and a store with
// 10,000 of them. Every refusal is a clear error from the closed set, changes nothing and echoes no secret.

for (const backend of gatewayBackends) describe.skipIf(!backend.available)(`credentials under hostile input (${backend.name})`, () => {
  const gateway = gatewayOn(backend, {});
  const admin = adminToken();
  let t: TestGateway;
  beforeAll(() => {
    t = gateway();
  });
  const create = (input: Record<string, unknown>) =>
    gql(t.url, admin, 'mutation($input: CreateCredentialInput!) { createCredential(input: $input) { id name } }', { input });
  const count = async () => (await sqlOf(t.gateway.store).query<{ n: number }>('SELECT count(*)::int AS n FROM credentials'))[0]!.n;

  it('an oversized secret is BAD_INPUT on its field, not echoed, and nothing is stored', async () => {
    const password = `BIG${'p'.repeat(60_000)}`;
    const res = await create({ name: 'big', kind: 'SshPassword', username: 'u', password });
    expect(res.status).toBe(200);
    expect(res.body.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { password: [expect.stringMatching(/1 to 1024 characters/)] } });
    const key = await create({ name: 'bigkey', kind: 'SshPrivateKey', username: 'u', privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${'k'.repeat(40_000)}` });
    expect(key.body.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { privateKey: [expect.any(String)] } });
    expect(JSON.stringify([res.body, key.body])).not.toMatch(/pppppppppp|kkkkkkkkkk/);
    // Past the body limit the request is refused before it is read.
    const huge = await create({ name: 'huge', kind: 'SshPassword', username: 'u', password: 'q'.repeat(200_000) });
    expect(huge.status).toBe(413);
    expect(await count()).toBe(0);
    expect(t.logs.join('')).not.toMatch(/pppppppppp|kkkkkkkkkk|qqqqqqqqqq/);
  });

  it('a name that is not UTF-8, or not valid Unicode, is refused and nothing is stored', async () => {
    const mutation = 'mutation($input: CreateCredentialInput!) { createCredential(input: $input) { id name } }';
    const prefix = Buffer.from(JSON.stringify({ query: mutation, variables: { input: { name: 'X', kind: 'SshPassword', username: 'u', password: 'p-not-utf8' } } }));
    // The name's X becomes the bytes ff fe: not UTF-8.
    const raw = Buffer.from(prefix.toString('latin1').replace('"name":"X"', '"name":"bad\xff\xfename"'), 'latin1');
    const notUtf8 = await call(`${t.url}/graphql`, { token: admin, raw, headers: { 'content-type': 'application/json' } });
    expect(notUtf8.status).toBe(400);
    expect(notUtf8.text).toMatch(/not UTF-8/);
    // A lone surrogate has no UTF-8 form at all.
    const lone = await call(`${t.url}/graphql`, {
      token: admin,
      raw: `{"query":${JSON.stringify(mutation)},"variables":{"input":{"name":"bad\\ud800name","kind":"SshPassword","username":"u","password":"p-lone-surrogate"}}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(lone.json.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { name: [expect.stringMatching(/valid Unicode/)] } });
    const control = await create({ name: 'tab\there', kind: 'SshPassword', username: 'u', password: 'p' });
    expect(control.body.errors[0].extensions.code).toBe('BAD_INPUT');
    expect(await count()).toBe(0);
  });

  it('a malformed body with a secret in it is refused without quoting it', async () => {
    const res = await call(`${t.url}/graphql`, { token: admin, raw: '{"query":"mutation { x }","variables": hunter2-unquoted-secret}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('hunter2');
    expect(t.logs.join('')).not.toContain('hunter2');
  });

  it('a secret of the wrong type is refused without quoting it, over HTTP and in literals alike', async () => {
    const secret = 'wrong-type-secret-7f3a';
    const asObject = await create({ name: 'obj', kind: 'SshPassword', username: 'u', password: { value: secret } });
    const asList = await create({ name: 'list', kind: 'SshPassword', username: 'u', privateKey: [secret] });
    const asNumber = await create({ name: 'num', kind: 'SshPassword', username: 'u', passphrase: 73_931_555 });
    const literal = await gql(
      t.url,
      admin,
      `mutation { createCredential(input: { name: "lit", kind: SshPassword, username: "u", password: { value: "${secret}" } }) { id } }`,
    );
    for (const res of [asObject, asList, asNumber, literal]) {
      expect(res.body.errors[0].extensions.code).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
      // Still says which variable and field, and why.
      expect(res.body.errors[0].message).toMatch(/password|privateKey|passphrase|String/);
    }
    expect(JSON.stringify([asObject.body, asList.body, asNumber.body, literal.body])).not.toMatch(/wrong-type-secret|73931555/);
    expect(t.logs.join('')).not.toMatch(/wrong-type-secret|73931555/);
    expect(await count()).toBe(0);
  });

  it('10,000 credentials: a page is at most 500 (cost limit and bound), and pages walk all of them', async () => {
    await sqlOf(t.gateway.store).query(
      `INSERT INTO credentials (id, name, kind, username, secret, key_id)
       SELECT gen_random_uuid(), 'bulk-' || lpad(i::text, 5, '0'), 0, 'u', 'v1.AAAA', 'none' FROM generate_series(1, 10000) AS i`,
    );
    const page = (first: number, after: string | null) =>
      gql(t.url, admin, 'query($first: Int!, $after: String) { credentials(first: $first, after: $after) { nodes { id name hostCount hosts { name } } pageInfo { hasNextPage endCursor } } }', { first, after });
    // All at once: over the cost limit, refused before it runs; just past the bound with a cheap selection: BAD_INPUT.
    expect((await page(10_000, null)).body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const past = await gql(t.url, admin, '{ credentials(first: 501) { nodes { id } } }');
    expect(past.body.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { first: [expect.stringMatching(/from 1 to 500/)] } });
    const seen = new Set<string>();
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const res = await page(500, after);
      expect(res.body.errors).toBeUndefined();
      const { nodes, pageInfo } = res.body.data.credentials;
      expect(nodes.length).toBeLessThanOrEqual(500);
      for (const n of nodes) seen.add(n.id);
      pages++;
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    expect(seen.size).toBe(10_000);
    expect(pages).toBe(20);
    const forged = await page(10, Buffer.from("credential:00000000-0000-4000-8000-000000000000:x' OR 1=1 --").toString('base64url'));
    expect(forged.body.errors).toBeUndefined(); // a cursor is a position, not SQL: an empty or short page
  });
});

describe('HOSTS_FILE naming credentials', () => {
  it('points hosts at a credential by name or id; a name that is no credential stops the start, naming the entry', { timeout: 120_000 }, async () => {
    const dataDir = freshDataDir();
    try {
      const first = await startTestGateway({}, { dataDir, runner: false });
      const res = await gql(first.url, adminToken(), 'mutation { createCredential(input: { name: "fleet", kind: SshPassword, username: "scanner", password: "hosts-file-pw-1" }) { id } }');
      const id = res.body.data.createCredential.id as string;
      await first.stop();

      const file = hostsFile([
        { name: 'by-name', ipAddress: '127.0.0.21', credentialName: 'FLEET', sshTrust: 1 },
        { name: 'by-id', ipAddress: '127.0.0.22', credentialId: id, acceptKeyOnFirstContact: false },
      ]);
      const second = await startTestGateway({ HOSTS_FILE: file }, { dataDir, runner: false });
      try {
        const hosts = await second.gateway.store.hosts.list({ limit: 10 });
        expect(hosts.find((h) => h.name === 'by-name')).toMatchObject({ credentialId: id, credentialName: 'fleet', sshTrust: 1, acceptKeyOnFirstContact: true });
        expect(hosts.find((h) => h.name === 'by-id')).toMatchObject({ credentialId: id, sshTrust: 2, acceptKeyOnFirstContact: false });
      } finally {
        await second.stop();
      }

      const unknown = hostsFile([{ name: 'x', credentialName: 'no-such-credential' }, { name: 'y', credentialName: 'fleet', credentialId: id }]);
      const failure = await startTestGateway({ HOSTS_FILE: unknown }, { dataDir, runner: false }).catch((err: Error) => err);
      expect((failure as Error).message).toMatch(/^HOSTS_FILE has invalid hosts: \$\[1\]\.credentialName: Give credentialId or credentialName, not both/);
      const named = await startTestGateway({ HOSTS_FILE: hostsFile([{ name: 'x', credentialName: 'no-such-credential' }]) }, { dataDir, runner: false }).catch((err: Error) => err);
      expect((named as Error).message).toBe("HOSTS_FILE names credentials that do not exist (add them first: npm run credentials -- add): $[0].credentialName: No credential is named 'no-such-credential'.");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
