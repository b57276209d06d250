import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../src/audit';
import { Lockout } from '../src/lockout';
import { startTestGateway, type TestGateway } from './support/gateway';
import { hostsFile } from './support/hosts';
import { call } from './support/http';

// Failed sign-ins slow down, then lock per account name and per address; locks expire.

const POLICY = { lockAfter: 3, lockAfterPerAddress: 5, lockoutMs: 60_000, slowAfter: 1 };

describe('Lockout (with a clock of its own)', () => {
  const clock = () => {
    const c = { t: 1_000_000, slept: [] as number[] };
    return { c, lockout: new Lockout(POLICY, { now: () => c.t, sleep: async (ms) => c.slept.push(ms) }) };
  };

  it('slows each failure after slowAfter, doubling, then locks the account for lockoutMs', async () => {
    const { c, lockout } = clock();
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push(lockout.failed('Alice', '10.0.0.1'));
      await lockout.slowDown('alice');
    }
    expect(results).toEqual([false, false, true]);
    expect(c.slept).toEqual([250]);
    expect(lockout.locked('ALICE', '10.0.0.2')).toBe(true);
    expect(lockout.locked('bob', '10.0.0.2')).toBe(false);
    c.t += 59_999;
    expect(lockout.locked('alice', null)).toBe(true);
    c.t += 1;
    expect(lockout.locked('alice', null)).toBe(false);
    expect(lockout.failed('alice', null)).toBe(false);
  });

  it('locks an address that fails across accounts, and forgets failures older than the window', () => {
    const { c, lockout } = clock();
    for (const name of ['a', 'b', 'c', 'd']) lockout.failed(name, '10.0.0.9');
    c.t += 60_000;
    // The four above have expired: four more do not lock yet, the fifth does.
    expect(['e', 'f', 'g', 'h'].map((n) => lockout.failed(n, '10.0.0.9'))).toEqual([false, false, false, false]);
    expect(lockout.failed('i', '10.0.0.9')).toBe(true);
    expect(lockout.locked('anyone', '10.0.0.9')).toBe(true);
    expect(lockout.locked('anyone', '10.0.0.8')).toBe(false);
  });

  it('starts an account again after a success', () => {
    const { lockout } = clock();
    lockout.failed('x', null);
    lockout.failed('x', null);
    lockout.succeeded('x');
    expect(lockout.failed('x', null)).toBe(false);
  });
});

describe('lockout end to end', () => {
  let t: TestGateway;
  const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
  const ADMIN: Caller = { subject: 'admin-1', userName: 'Ada', roles: new Set(['Admin']), expiresAt: Infinity };
  beforeAll(async () => {
    t = await startTestGateway(
      { HOSTS_FILE: hostsFile(), SIGNIN_MFA: 'off', SIGNIN_LOCK_AFTER: '3', SIGNIN_LOCK_AFTER_PER_ADDRESS: '100', SIGNIN_LOCKOUT_S: '2', SIGNIN_SLOW_AFTER: '100' },
      { runner: false },
    );
    await t.gateway.accounts.createUser(ADMIN, { login: 'locked-out', password: PASSWORD, roles: ['Admin'] });
  });
  afterAll(() => t?.stop());
  const signIn = (login: string, password: string) => call(`${t.url}/signinBody`, { body: { Login: login, Password: password } });

  it('locks an account after its failures, refuses even the right password, and lets it in once the lock expires', async () => {
    for (let i = 0; i < 3; i++) expect((await signIn('locked-out', 'wrong password!')).status).toBe(401);
    const refused = await signIn('locked-out', PASSWORD);
    expect(refused.status).toBe(401);
    expect(refused.json.detail).toMatch(/^Too many failed sign-ins/);
    const actions = (await t.gateway.store.audit.list({ limit: 10 })).map((r) => `${r.action}:${r.details.reason ?? ''}`);
    expect(actions).toEqual(expect.arrayContaining(['signin.lockout:', 'signin.failure:locked']));
    const named = (await t.gateway.store.audit.list({ limit: 500 })).filter((r) => r.action.startsWith('signin.'));
    expect(named.every((r) => r.details.login === 'locked-out' && r.target !== null)).toBe(true);
    // Wait out SIGNIN_LOCKOUT_S (2 s): polling, since a loaded machine may be slow.
    let status = 401;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await signIn('locked-out', PASSWORD)).status;
    }
    expect(status).toBe(200);
  });

  it('locks an unknown name the same way, so a lock tells nothing about who exists', async () => {
    for (let i = 0; i < 3; i++) expect((await signIn('nobody-here', 'wrong password!')).json.detail).toBe('The login or password is wrong.');
    expect((await signIn('nobody-here', 'wrong password!')).json.detail).toMatch(/^Too many failed sign-ins/);
    // A name that is no account may be a password typed into the login field: it is not kept.
    const records = (await t.gateway.store.audit.list({ limit: 500 })).filter((r) => r.action.startsWith('signin.') && r.target === null);
    expect(records.map((r) => `${r.action}:${r.details.reason ?? ''}`)).toEqual(expect.arrayContaining(['signin.failure:unknown', 'signin.lockout:', 'signin.failure:locked']));
    expect(records.every((r) => r.details.login === null && r.details.loginNamedNoAccount === true)).toBe(true);
    expect(JSON.stringify(await t.gateway.store.audit.list({ limit: 500 }))).not.toContain('nobody-here');
  });
});
