import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { apiKeyMatches } from './api-keys';
import type { AuditEntry } from './audit';
import type { Sealer } from './auth-secrets';
import type { Principal } from './auth';
import type { Lockout } from './lockout';
import { AppError, forbidden, unauthenticated } from './errors';
import { MAX_PASSWORD_LENGTH, verifyPassword } from './passwords';
import type { Store, UserRecord } from './store';
import type { TokenIssuer } from './token-issuer';
import { TOTP_SEED_PURPOSE, newTotpSeed, totpStep, totpUri } from './totp';

/** Where a sign-in attempt comes from, for the audit trail (and the lockout). */
export interface Attempt {
  address: string | null;
  traceId: string | null;
}

/** A first step's outcome: a pre-MFA token with its cookie, or (MFA off) a full token. */
export type FirstStep = { token: string; mfaCookie: string | null };

const WRONG = 'The login or password is wrong.';

// A login that names no account is often a password typed into the wrong field: the audit trail keeps
// only that it named none (the address and time still tie attempts together).
const loginOf = (login: string, named: boolean) => (named ? { login } : { login: null, loginNamedNoAccount: true });
const WRONG_CODE = 'The code is wrong, expired or already used.';
const LOCKED = 'Too many failed sign-ins for this account or from this address; try again later.';
// A well-formed key hash no key has, compared when the application does not exist (same time either way).
const NO_KEY_HASH = '0'.repeat(64);

const bindingOf = (cookie: string) => createHash('sha256').update(cookie).digest('base64url');

/**
 * Sign-in as the vendor's scripts do it: password (then a TOTP code unless MFA is off), API keys for
 * applications, refresh. Every outcome is written to the audit trail; no failure says whether the
 * account exists, and an unknown account costs the same hashing time as a known one.
 */
export class SignInService {
  constructor(private readonly o: { store: Store; tokens: TokenIssuer; sealer: Sealer; mfa: boolean; lockout: Lockout }) {
    // Make the dummy hash now, so that even the first unknown user costs one hash, not two.
    void verifyPassword(null, '');
  }

  /** Step one: login (`DOMAIN\user` accepted) and password. */
  async password(input: { login: unknown; password: unknown }, from: Attempt): Promise<FirstStep> {
    const login = typeof input.login === 'string' ? input.login.slice(input.login.lastIndexOf('\\') + 1).trim().slice(0, 129) : '';
    await this.refuseLocked(login, from);
    const password = typeof input.password === 'string' && input.password.length <= MAX_PASSWORD_LENGTH ? input.password : '';
    const user = login && login.length <= 128 ? await this.o.store.accounts.userByLogin(login) : null;
    const ok = await verifyPassword(user?.passwordHash ?? null, password);
    if (!user || !ok || user.disabled || !password) {
      await this.fail(login, user?.id ?? null, !user ? 'unknown' : user.disabled ? 'disabled' : 'password', from);
      throw unauthenticated(WRONG);
    }
    if (!this.o.mfa) this.o.lockout.succeeded(login);
    if (!this.o.mfa) return { token: await this.full(user, from, 'signin'), mfaCookie: null };
    const cookie = randomBytes(32).toString('base64url');
    const { token } = await this.o.tokens.issuePreMfa(user.id, bindingOf(cookie));
    await this.audit(from, 'signin.password', user.id, { login: user.login });
    return { token, mfaCookie: cookie };
  }

  /**
   * For a user without TOTP, between the steps: a new seed (sealed in the store) and its otpauth:// URI.
   * The first code accepted confirms it. Refused once TOTP is confirmed: only an Admin resets it.
   */
  async enrolTotp(authorization: string | undefined, cookie: string | undefined, from: Attempt): Promise<{ uri: string }> {
    const user = await this.pending(authorization, cookie);
    if (user.totpConfirmed) throw new AppError('CONFLICT', 'TOTP is enrolled already; an Admin can reset it.');
    const seed = newTotpSeed();
    await this.o.store.accounts.updateUser(user.id, { totpSeed: this.o.sealer.seal(seed, TOTP_SEED_PURPOSE) }, this.entry(from, 'totp.enrol', user.id, {}));
    return { uri: totpUri(seed, user.login) };
  }

  /** Step two: the pre-MFA token, its cookie and a TOTP code, for a full token. */
  async code(authorization: string | undefined, cookie: string | undefined, code: unknown, from: Attempt): Promise<string> {
    const user = await this.pending(authorization, cookie);
    await this.refuseLocked(user.login, from);
    if (!user.totpSeed) throw forbidden('TOTP is not enrolled: POST /signin2fa/enrol with this token and cookie first, then send a code.');
    const step = typeof code === 'string' ? totpStep(this.o.sealer.open(user.totpSeed, TOTP_SEED_PURPOSE), code.trim()) : null;
    const fresh = step !== null && (await this.o.store.accounts.useTotpStep(user.id, step, this.entry(from, user.totpConfirmed ? 'signin.code' : 'totp.confirm', user.id, {})));
    if (!fresh) {
      await this.fail(user.login, user.id, step === null ? 'code' : 'code reused', from);
      throw unauthenticated(WRONG_CODE);
    }
    this.o.lockout.succeeded(user.login);
    return this.full(user, from, 'signin');
  }

  /** An application's token for its name and API key. */
  async apiKey(input: { login: unknown; password: unknown }, from: Attempt): Promise<string> {
    const name = typeof input.login === 'string' && input.login.length <= 128 ? input.login.trim() : '';
    await this.refuseLocked(name, from);
    const key = typeof input.password === 'string' ? input.password : '';
    const app = name ? await this.o.store.accounts.appByName(name) : null;
    if (!apiKeyMatches(key, app?.keyHash ?? NO_KEY_HASH) || !app || app.disabled) {
      await this.fail(name, app?.id ?? null, app ? 'api key' : 'unknown', from);
      throw unauthenticated('The application name or API key is wrong.');
    }
    this.o.lockout.succeeded(name);
    const { token } = await this.o.tokens.issue({ subject: app.id, name: app.name, roles: app.roles, version: app.tokenVersion });
    await this.audit(from, 'signin.app', app.id, { name: app.name, keyPrefix: app.keyPrefix });
    return token;
  }

  /** A fresh token for a live one the gateway issued, with the account's roles as they are now. */
  async refresh(principal: Principal, from: Attempt): Promise<string> {
    const accounts = this.o.store.accounts;
    const isId = /^[0-9a-f-]{36}$/.test(principal.subject);
    const user = isId ? await accounts.user(principal.subject) : null;
    const app = isId && !user ? await accounts.app(principal.subject) : null;
    const account = user ?? app;
    if (!account) throw forbidden('Only tokens this gateway issued at sign-in can be refreshed.');
    if (account.disabled) throw unauthenticated('The bearer token has been revoked.');
    const { token } = await this.o.tokens.issue({ subject: account.id, name: user?.login ?? app!.name, roles: account.roles, version: account.tokenVersion });
    await this.audit(from, 'token.refresh', account.id, {});
    return token;
  }

  /** Refuse at once, checking no password, while the account name or the address is locked. */
  private async refuseLocked(account: string, from: Attempt): Promise<void> {
    if (!this.o.lockout.locked(account, from.address)) return;
    const user = account && account.length <= 128 ? await this.o.store.accounts.userByLogin(account) : null;
    await this.audit(from, 'signin.failure', user?.id ?? null, { ...loginOf(account, user !== null), reason: 'locked' });
    throw unauthenticated(LOCKED);
  }

  /** Count and record a failure (and a lockout it starts), then answer as late as the lockout says. */
  private async fail(account: string, target: string | null, reason: string, from: Attempt): Promise<void> {
    const lockedNow = this.o.lockout.failed(account, from.address);
    await this.audit(from, 'signin.failure', target, { ...loginOf(account, target !== null), reason });
    if (lockedNow) await this.audit(from, 'signin.lockout', target, loginOf(account, target !== null));
    await this.o.lockout.slowDown(account);
  }

  /** The user a pre-MFA token and its cookie name, still allowed to sign in. */
  private async pending(authorization: string | undefined, cookie: string | undefined): Promise<UserRecord> {
    const { subject, binding } = this.o.tokens.verifyPreMfa(authorization);
    const expected = Buffer.from(binding);
    const given = Buffer.from(cookie ? bindingOf(cookie) : '');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw unauthenticated('The MFA cookie from /signinBody is missing or does not belong to this token; sign in again with one cookie jar.');
    }
    const user = await this.o.store.accounts.user(subject);
    if (!user || user.disabled) throw unauthenticated('The pre-MFA token is not valid or has expired; sign in again.');
    return user;
  }

  private async full(user: UserRecord, from: Attempt, action: string): Promise<string> {
    const { token } = await this.o.tokens.issue({ subject: user.id, name: user.login, roles: user.roles, version: user.tokenVersion });
    await this.audit(from, action, user.id, { login: user.login, mfa: this.o.mfa });
    return token;
  }

  private entry(from: Attempt, action: string, target: string | null, details: Record<string, unknown>): AuditEntry {
    return { action, subject: target, roles: [], address: from.address, traceId: from.traceId, target, details };
  }

  private audit(from: Attempt, action: string, target: string | null, details: Record<string, unknown>): Promise<void> {
    return this.o.store.audit.append([this.entry(from, action, target, details)]);
  }
}
