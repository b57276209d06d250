import { randomUUID } from 'node:crypto';
import { newApiKey } from './api-keys';
import type { Sealer } from './auth-secrets';
import { TOTP_SEED_PURPOSE, newTotpSeed, totpUri } from './totp';
import { auditEntry, type Caller } from './audit';
import { ROLES, requireRole, type Role } from './auth';
import { AppError, badInput, notFound } from './errors';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hashPassword } from './passwords';
import { NAME_TAKEN, type AppRecord, type Store, type UserRecord } from './store';
import { hasControlCharacters, uuidParam } from './validate';

/** A user as an Admin sees one: never the password hash or the TOTP seed. */
export interface UserView {
  id: string;
  login: string;
  displayName: string | null;
  roles: Role[];
  disabled: boolean;
  totpEnrolled: boolean;
  createdAt: Date;
  modifiedAt: Date;
}

/** An application as an Admin sees one: the key's prefix, never the key or its hash. */
export interface AppView {
  id: string;
  name: string;
  roles: Role[];
  keyPrefix: string;
  disabled: boolean;
  createdAt: Date;
  modifiedAt: Date;
}

export const userView = (u: UserRecord): UserView => ({
  id: u.id, login: u.login, displayName: u.displayName, roles: knownRoles(u.roles), disabled: u.disabled,
  totpEnrolled: u.totpConfirmed, createdAt: u.createdAt, modifiedAt: u.modifiedAt,
});
export const appView = (a: AppRecord): AppView => ({
  id: a.id, name: a.name, roles: knownRoles(a.roles), keyPrefix: a.keyPrefix, disabled: a.disabled, createdAt: a.createdAt, modifiedAt: a.modifiedAt,
});
export const knownRoles = (roles: readonly string[]): Role[] => ROLES.filter((r) => roles.includes(r));

/** Told when an account's live tokens must stop working now (disabled, key rotated, password reset, deleted). */
export type RevokeListener = (subject: string, tokenVersion: number) => void;

/**
 * Users and applications: Admin only. Passwords are hashed here (Argon2id) and API keys made here; both
 * leave this service only as a hash, except the key handed back once when it is made.
 */
export class AccountService {
  constructor(private readonly o: { store: Store; sealer: Sealer; onRevoked: RevokeListener }) {}

  async createUser(caller: Caller, input: { login?: unknown; password?: unknown; roles?: unknown; displayName?: unknown }): Promise<UserView> {
    requireRole(caller, ['Admin']);
    const login = loginOf(input.login, 'login');
    const password = passwordOf(input.password);
    const roles = rolesOf(input.roles);
    const displayName = input.displayName == null ? null : textOf(input.displayName, 'displayName');
    const id = randomUUID();
    const user = await this.o.store.accounts
      .createUser({ id, login, displayName, roles, passwordHash: await hashPassword(password) }, auditEntry(caller, 'user.create', id, { login, roles }))
      .catch(conflictOn('login', `The login '${login}' is taken.`));
    return userView(user);
  }

  async users(caller: Caller): Promise<UserView[]> {
    requireRole(caller, ['Admin']);
    return (await this.o.store.accounts.users(1000)).map(userView);
  }

  async setRoles(caller: Caller, id: unknown, roles: unknown): Promise<UserView> {
    requireRole(caller, ['Admin']);
    const userId = uuidParam(id, 'id');
    const clean = rolesOf(roles);
    // New roles take effect with the next token; live ones are revoked so that a demotion is at once.
    return this.changeUser(caller, userId, { roles: clean, revoke: true }, 'user.roles', { roles: clean });
  }

  async resetPassword(caller: Caller, id: unknown, password: unknown): Promise<UserView> {
    requireRole(caller, ['Admin']);
    const userId = uuidParam(id, 'id');
    const passwordHash = await hashPassword(passwordOf(password));
    return this.changeUser(caller, userId, { passwordHash, revoke: true }, 'user.password-reset', {});
  }

  async setDisabled(caller: Caller, id: unknown, disabled: boolean): Promise<UserView> {
    requireRole(caller, ['Admin']);
    const userId = uuidParam(id, 'id');
    return this.changeUser(caller, userId, { disabled, revoke: disabled }, disabled ? 'user.disable' : 'user.enable', {});
  }

  /** A new TOTP seed for the user, sealed in the store; its otpauth:// URI goes to the Admin to hand over. */
  async enrolTotp(caller: Caller, id: unknown): Promise<{ user: UserView; uri: string }> {
    requireRole(caller, ['Admin']);
    const userId = uuidParam(id, 'id');
    const seed = newTotpSeed();
    const user = await this.changeUser(caller, userId, { totpSeed: this.o.sealer.seal(seed, TOTP_SEED_PURPOSE) }, 'totp.enrol', {});
    return { user, uri: totpUri(seed, user.login) };
  }

  /** Remove the user's TOTP: they enrol again at their next sign-in. */
  async resetTotp(caller: Caller, id: unknown): Promise<UserView> {
    requireRole(caller, ['Admin']);
    const userId = uuidParam(id, 'id');
    return this.changeUser(caller, userId, { totpSeed: null }, 'user.totp-reset', {});
  }

  async deleteUser(caller: Caller, id: unknown): Promise<boolean> {
    requireRole(caller, ['Admin']);
    const userId = uuidParam(id, 'id');
    const deleted = await this.o.store.accounts.deleteUser(userId, auditEntry(caller, 'user.delete', userId));
    if (deleted) this.o.onRevoked(userId, -1);
    return deleted;
  }

  /** A new application and its API key, which is shown this once. */
  async createApp(caller: Caller, input: { name?: unknown }): Promise<{ app: AppView; apiKey: string }> {
    requireRole(caller, ['Admin']);
    const name = loginOf(input.name, 'name');
    const key = newApiKey();
    const id = randomUUID();
    const app = await this.o.store.accounts
      .createApp({ id, name, roles: ['App'], keyPrefix: key.prefix, keyHash: key.hash }, auditEntry(caller, 'app.create', id, { name, keyPrefix: key.prefix }))
      .catch(conflictOn('name', `The application name '${name}' is taken.`));
    return { app: appView(app), apiKey: key.key };
  }

  async apps(caller: Caller): Promise<AppView[]> {
    requireRole(caller, ['Admin']);
    return (await this.o.store.accounts.apps(1000)).map(appView);
  }

  /** A new key for the application; the old key and every token it got stop working at once. */
  async rotateAppKey(caller: Caller, id: unknown): Promise<{ app: AppView; apiKey: string }> {
    requireRole(caller, ['Admin']);
    const appId = uuidParam(id, 'id');
    const key = newApiKey();
    const app = await this.o.store.accounts.rotateAppKey(appId, { keyPrefix: key.prefix, keyHash: key.hash }, auditEntry(caller, 'app.rotate-key', appId, { keyPrefix: key.prefix }));
    if (!app) throw notFound(`No application has the id ${appId}.`);
    this.o.onRevoked(app.id, app.tokenVersion);
    return { app: appView(app), apiKey: key.key };
  }

  async deleteApp(caller: Caller, id: unknown): Promise<boolean> {
    requireRole(caller, ['Admin']);
    const appId = uuidParam(id, 'id');
    const deleted = await this.o.store.accounts.deleteApp(appId, auditEntry(caller, 'app.delete', appId));
    if (deleted) this.o.onRevoked(appId, -1);
    return deleted;
  }

  private async changeUser(caller: Caller, id: string, change: Parameters<Store['accounts']['updateUser']>[1], action: string, details: Record<string, unknown>): Promise<UserView> {
    const user = await this.o.store.accounts.updateUser(id, change, auditEntry(caller, action, id, details));
    if (!user) throw notFound(`No user has the id ${id}.`);
    // Enabling tells too: the version a token needs goes from none (-1) back to the current one.
    if (change.revoke || change.disabled !== undefined) this.o.onRevoked(user.id, user.disabled ? -1 : user.tokenVersion);
    return userView(user);
  }
}

function conflictOn(field: string, message: string) {
  return (err: unknown): never => {
    if ((err as { code?: string }).code === NAME_TAKEN) throw new AppError('CONFLICT', message, { [field]: [message] });
    throw err;
  };
}

/** A login or application name: 1–128 characters, no control characters, no `\` (DOMAIN\ is stripped at sign-in). */
export function loginOf(value: unknown, key: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 128 || hasControlCharacters(value) || value.includes('\\')) {
    throw badInput({ [key]: ['Expected 1 to 128 characters without control characters or a backslash.'] });
  }
  return value.trim();
}

function passwordOf(value: unknown): string {
  if (typeof value !== 'string' || value.length < MIN_PASSWORD_LENGTH || value.length > MAX_PASSWORD_LENGTH) {
    throw badInput({ password: [`Expected a password of ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`] });
  }
  return value;
}

function rolesOf(value: unknown): Role[] {
  if (!Array.isArray(value) || value.some((r) => !(ROLES as readonly unknown[]).includes(r))) {
    throw badInput({ roles: [`Expected a list of roles from ${ROLES.join(', ')}.`] });
  }
  return ROLES.filter((r) => value.includes(r));
}

function textOf(value: unknown, key: string): string {
  if (typeof value !== 'string' || value.length > 255 || hasControlCharacters(value)) throw badInput({ [key]: ['Expected text of at most 255 characters.'] });
  return value;
}
