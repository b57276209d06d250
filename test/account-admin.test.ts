import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayBackends, gatewayOn } from './support/backends';
import type { TestGateway } from './support/gateway';
import { collect, gql, wsClient } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { adminToken, appToken } from './support/tokens';

// The Admin's GraphQL for users and applications, end to end: revocations take live tokens and sockets.

const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const USER_FIELDS = 'id login roles disabled totpEnrolled';
const WATCH = 'subscription { hostScanJobStatus { id } }';

for (const backend of gatewayBackends) {
  describe.skipIf(!backend.available)(`account administration: ${backend.name}`, () => {
    // MFA off: these tests are about administration; the code step has its own (signin.test.ts).
    const gateway = gatewayOn(backend, { HOSTS_FILE: hostsFile(), SIGNIN_MFA: 'off' });
    let t: TestGateway;
    const texts: string[] = [];
    beforeAll(() => {
      t = gateway();
    });
    const admin = async (query: string, variables?: Record<string, unknown>) => {
      const res = await gql(t.url, adminToken(), query, variables);
      texts.push(JSON.stringify(res.body));
      return res.body;
    };
    const schedule = (token: string) => call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { method: 'POST', token, body: [HOSTS.alpha.id] });
    /** A subscription held open with `token`; `closed` settles with the close event. */
    const openSocket = async (token: string) => {
      const client = wsClient(t.url, { token });
      const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
      const closed = new Promise<{ code: number; reason: string }>((resolve) => client.on('closed', (e) => resolve(e as { code: number; reason: string })));
      collect(client, WATCH).done.catch(() => {});
      await connected;
      return { client, closed };
    };

    it('creates a user, who signs in; disabling them refuses their token and closes their socket with 4403', async () => {
      const login = `gq-${randomBytes(3).toString('hex')}`;
      const created = await admin(`mutation($l: String!, $p: String!) { createUser(login: $l, password: $p, roles: ["Admin"]) { ${USER_FIELDS} } }`, { l: login, p: PASSWORD });
      expect(created.data.createUser).toMatchObject({ login, roles: ['Admin'], disabled: false, totpEnrolled: false });
      const id = created.data.createUser.id;
      const token = (await call(`${t.url}/signinBody`, { body: { login, password: PASSWORD } })).json as string;
      expect((await schedule(token)).status).toBe(200);
      const socket = await openSocket(token);
      const disabled = await admin(`mutation($id: ID!) { disableUser(id: $id) { ${USER_FIELDS} } }`, { id });
      expect(disabled.data.disableUser.disabled).toBe(true);
      expect(await socket.closed).toMatchObject({ code: 4403, reason: 'Token revoked' });
      expect((await schedule(token)).status).toBe(401);
      expect((await call(`${t.url}/signinBody`, { body: { login, password: PASSWORD } })).status).toBe(401);
      await admin(`mutation($id: ID!) { enableUser(id: $id) { id } }`, { id });
      // The old token stays revoked; a new sign-in works.
      expect((await schedule(token)).status).toBe(401);
      const again = (await call(`${t.url}/signinBody`, { body: { login, password: PASSWORD } })).json as string;
      expect((await schedule(again)).status).toBe(200);
      await socket.client.dispose();
    });

    it('creates an application; rotating its key refuses the old key and token and closes its socket', async () => {
      const made = await admin(`mutation { createApplication(name: "bot-${randomBytes(3).toString('hex')}") { apiKey application { id name roles keyPrefix } } }`);
      const { apiKey, application } = made.data.createApplication;
      expect(application.roles).toEqual(['App']);
      expect(apiKey.slice(4, 12)).toBe(application.keyPrefix);
      const token = (await call(`${t.url}/WebAppApi/api/v1/AppUserToken`, { body: { login: application.name, password: apiKey } })).json as string;
      const socket = await openSocket(token);
      const rotated = await admin(`mutation($id: ID!) { rotateApplicationKey(id: $id) { apiKey application { keyPrefix } } }`, { id: application.id });
      expect(await socket.closed).toMatchObject({ code: 4403 });
      expect((await schedule(token)).status).toBe(401);
      expect((await call(`${t.url}/WebAppApi/api/v1/AppUserToken`, { body: { login: application.name, password: apiKey } })).status).toBe(401);
      const fresh = await call(`${t.url}/WebAppApi/api/v1/AppUserToken`, { body: { login: application.name, password: rotated.data.rotateApplicationKey.apiKey } });
      expect((await schedule(fresh.json)).status).toBe(200);
      const listed = await admin('{ applications { id keyPrefix } }');
      expect(listed.data.applications).toContainEqual({ id: application.id, keyPrefix: rotated.data.rotateApplicationKey.application.keyPrefix });
      expect(t.logs.join('')).not.toContain(apiKey);
      expect((await admin(`mutation($id: ID!) { deleteApplication(id: $id) }`, { id: application.id })).data.deleteApplication).toBe(true);
      expect((await admin(`mutation($id: ID!) { deleteApplication(id: $id) }`, { id: application.id })).data.deleteApplication).toBe(false);
    });

    it('sets roles, resets the password, enrols and resets TOTP, deletes; never shows a secret', async () => {
      const login = `gq-${randomBytes(3).toString('hex')}`;
      const { id } = (await admin(`mutation($l: String!, $p: String!) { createUser(login: $l, password: $p, roles: []) { id } }`, { l: login, p: PASSWORD })).data.createUser;
      expect((await admin(`mutation($id: ID!) { setUserRoles(id: $id, roles: ["App"]) { roles } }`, { id })).data.setUserRoles.roles).toEqual(['App']);
      const newPassword = `np-${randomBytes(12).toString('hex')}`;
      await admin(`mutation($id: ID!, $p: String!) { resetUserPassword(id: $id, password: $p) { id } }`, { id, p: newPassword });
      expect((await call(`${t.url}/signinBody`, { body: { login, password: PASSWORD } })).status).toBe(401);
      expect((await call(`${t.url}/signinBody`, { body: { login, password: newPassword } })).status).toBe(200);
      const enrolled = await admin(`mutation($id: ID!) { enrolUserTotp(id: $id) { uri user { totpEnrolled } } }`, { id });
      expect(enrolled.data.enrolUserTotp.uri).toMatch(/^otpauth:\/\/totp\//);
      const seed = new URL(enrolled.data.enrolUserTotp.uri).searchParams.get('secret')!;
      expect((await admin(`mutation($id: ID!) { resetUserTotp(id: $id) { totpEnrolled } }`, { id })).data.resetUserTotp.totpEnrolled).toBe(false);
      const users = await admin(`{ users { ${USER_FIELDS} } }`);
      expect(users.data.users).toContainEqual({ id, login, roles: ['App'], disabled: false, totpEnrolled: false });
      expect((await admin(`mutation($id: ID!) { deleteUser(id: $id) }`, { id })).data.deleteUser).toBe(true);
      expect((await call(`${t.url}/signinBody`, { body: { login, password: newPassword } })).status).toBe(401);
      const everything = texts.join('\n') + t.logs.join('');
      for (const secret of [PASSWORD, newPassword]) expect(everything).not.toContain(secret);
      expect(t.logs.join('')).not.toContain(seed);
    });

    it('refuses non-Admins and bad input, changing nothing', async () => {
      const before = (await admin('{ users { id } }')).data.users.length;
      const asApp = await gql(t.url, appToken(), `mutation { createUser(login: "x-app", password: "${PASSWORD}", roles: []) { id } }`);
      expect(asApp.body.errors[0].extensions.code).toBe('FORBIDDEN');
      const short = await admin('mutation { createUser(login: "x-short", password: "short", roles: []) { id } }');
      expect(short.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT', errors: { password: expect.any(Array) } });
      const badRole = await admin(`mutation { createUser(login: "x-role", password: "${PASSWORD}", roles: ["Root"]) { id } }`);
      expect(badRole.errors[0].extensions.code).toBe('BAD_INPUT');
      const missing = await admin('mutation { disableUser(id: "00000000-0000-4000-8000-000000000000") { id } }');
      expect(missing.errors[0].extensions.code).toBe('NOT_FOUND');
      expect((await admin('{ users { id } }')).data.users.length).toBe(before);
    });
  });
}
