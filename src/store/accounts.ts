import type { AuditEntry } from '../audit';
import { announceAccount } from './account-changes';
import { appendAudit } from './audit';
import type { Queryable, Sql } from './db';

/** A person who signs in. `passwordHash` and `totpSeed` (sealed) never leave the gateway. */
export interface UserRecord {
  id: string;
  login: string;
  displayName: string | null;
  passwordHash: string;
  roles: string[];
  disabled: boolean;
  totpSeed: string | null;
  totpConfirmed: boolean;
  totpLastStep: number | null;
  tokenVersion: number;
  createdAt: Date;
  modifiedAt: Date;
}

/** An application account; `keyHash` is the SHA-256 of its API key. */
export interface AppRecord {
  id: string;
  name: string;
  roles: string[];
  keyPrefix: string;
  keyHash: string;
  disabled: boolean;
  tokenVersion: number;
  createdAt: Date;
  modifiedAt: Date;
}

/** What may change on a user; absent fields stay. Setting `revoke` bumps the token version. */
export interface UserChange {
  passwordHash?: string;
  roles?: string[];
  disabled?: boolean;
  displayName?: string | null;
  /** A new sealed seed (unconfirmed), or null to remove TOTP. */
  totpSeed?: string | null;
  totpConfirmed?: boolean;
  revoke?: boolean;
}

type UserRow = { id: string; login: string; display_name: string | null; password_hash: string; roles: string[]; disabled: boolean; totp_seed: string | null; totp_confirmed: boolean; totp_last_step: string | null; token_version: number; created_at: Date; modified_at: Date };
type AppRow = { id: string; name: string; roles: string[]; key_prefix: string; key_hash: string; disabled: boolean; token_version: number; created_at: Date; modified_at: Date };

const toUser = (r: UserRow): UserRecord => ({
  id: r.id, login: r.login, displayName: r.display_name, passwordHash: r.password_hash, roles: r.roles, disabled: r.disabled,
  totpSeed: r.totp_seed, totpConfirmed: r.totp_confirmed, totpLastStep: r.totp_last_step === null ? null : Number(r.totp_last_step),
  tokenVersion: r.token_version, createdAt: r.created_at, modifiedAt: r.modified_at,
});
const toApp = (r: AppRow): AppRecord => ({
  id: r.id, name: r.name, roles: r.roles, keyPrefix: r.key_prefix, keyHash: r.key_hash, disabled: r.disabled,
  tokenVersion: r.token_version, createdAt: r.created_at, modifiedAt: r.modified_at,
});
const USER = 'id::text, login, display_name, password_hash, roles, disabled, totp_seed, totp_confirmed, totp_last_step::text, token_version, created_at, modified_at';
const APP = 'id::text, name, roles, key_prefix, key_hash, disabled, token_version, created_at, modified_at';

/** A login or application name another account holds (case-insensitively). */
export const NAME_TAKEN = 'name taken';

/** Users and applications. Every change writes its audit entry in its own transaction. */
export function createAccountStore(db: Sql, options: { announce: boolean }) {
  // Other instances drop the account's live tokens when they hear of a new version (PostgreSQL only).
  const announce = (tx: Queryable, id: string, version: number) => (options.announce ? announceAccount(tx, id, version) : Promise.resolve());
  const taken = (err: unknown) => {
    if ((err as { code?: string }).code === '23505') throw Object.assign(new Error(NAME_TAKEN), { code: NAME_TAKEN });
    throw err;
  };
  return {
    async createUser(user: { id: string; login: string; displayName: string | null; passwordHash: string; roles: string[] }, audit: AuditEntry): Promise<UserRecord> {
      return db.transaction(async (tx) => {
        const [row] = await tx.query<UserRow>(
          `INSERT INTO gateway_users (id, login, display_name, password_hash, roles) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING ${USER}`,
          [user.id, user.login, user.displayName, user.passwordHash, JSON.stringify(user.roles)],
        );
        await appendAudit(tx, [audit]);
        return toUser(row!);
      }).catch(taken);
    },

    async userByLogin(login: string): Promise<UserRecord | null> {
      const [row] = await db.query<UserRow>(`SELECT ${USER} FROM gateway_users WHERE lower(login) = lower($1)`, [login]);
      return row ? toUser(row) : null;
    },

    async user(id: string): Promise<UserRecord | null> {
      const [row] = await db.query<UserRow>(`SELECT ${USER} FROM gateway_users WHERE id = $1`, [id]);
      return row ? toUser(row) : null;
    },

    async users(limit: number): Promise<UserRecord[]> {
      const rows = await db.query<UserRow>(`SELECT ${USER} FROM gateway_users ORDER BY lower(login) LIMIT $1`, [limit]);
      return rows.map(toUser);
    },

    /** Apply `change`; null when there is no such user. */
    async updateUser(id: string, change: UserChange, audit: AuditEntry): Promise<UserRecord | null> {
      return db.transaction(async (tx) => {
        const [row] = await tx.query<UserRow>(
          `UPDATE gateway_users SET
             password_hash = COALESCE($2, password_hash),
             roles = COALESCE($3::jsonb, roles),
             disabled = COALESCE($4, disabled),
             display_name = CASE WHEN $5 THEN $6 ELSE display_name END,
             totp_seed = CASE WHEN $7 THEN $8 ELSE totp_seed END,
             totp_confirmed = CASE WHEN $7 THEN false ELSE COALESCE($9, totp_confirmed) END,
             totp_last_step = CASE WHEN $7 THEN NULL ELSE totp_last_step END,
             token_version = token_version + CASE WHEN $10 THEN 1 ELSE 0 END,
             modified_at = now()
           WHERE id = $1 RETURNING ${USER}`,
          [id, change.passwordHash ?? null, change.roles ? JSON.stringify(change.roles) : null, change.disabled ?? null,
            'displayName' in change, change.displayName ?? null, 'totpSeed' in change, change.totpSeed ?? null,
            change.totpConfirmed ?? null, change.revoke ?? false],
        );
        if (!row) return null;
        await appendAudit(tx, [audit]);
        if (change.revoke || change.disabled !== undefined) await announce(tx, row.id, row.disabled ? -1 : row.token_version);
        return toUser(row);
      });
    },

    /**
     * Record that the TOTP time step `step` was used: true only when it is later than the last one used,
     * so a code is accepted once (two instances racing on one code: one wins).
     */
    async useTotpStep(id: string, step: number, audit: AuditEntry): Promise<boolean> {
      return db.transaction(async (tx) => {
        const rows = await tx.query(
          `UPDATE gateway_users SET totp_last_step = $2, totp_confirmed = true, modified_at = now()
           WHERE id = $1 AND totp_seed IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING id`,
          [id, step],
        );
        if (rows.length === 0) return false;
        await appendAudit(tx, [audit]);
        return true;
      });
    },

    async deleteUser(id: string, audit: AuditEntry): Promise<boolean> {
      return db.transaction(async (tx) => {
        const rows = await tx.query(`DELETE FROM gateway_users WHERE id = $1 RETURNING id`, [id]);
        if (rows.length > 0) await appendAudit(tx, [audit]);
        if (rows.length > 0) await announce(tx, id, -1);
        return rows.length > 0;
      });
    },

    async createApp(app: { id: string; name: string; roles: string[]; keyPrefix: string; keyHash: string }, audit: AuditEntry): Promise<AppRecord> {
      return db.transaction(async (tx) => {
        const [row] = await tx.query<AppRow>(
          `INSERT INTO gateway_apps (id, name, roles, key_prefix, key_hash) VALUES ($1, $2, $3::jsonb, $4, $5) RETURNING ${APP}`,
          [app.id, app.name, JSON.stringify(app.roles), app.keyPrefix, app.keyHash],
        );
        await appendAudit(tx, [audit]);
        return toApp(row!);
      }).catch(taken);
    },

    async appByName(name: string): Promise<AppRecord | null> {
      const [row] = await db.query<AppRow>(`SELECT ${APP} FROM gateway_apps WHERE lower(name) = lower($1)`, [name]);
      return row ? toApp(row) : null;
    },

    async app(id: string): Promise<AppRecord | null> {
      const [row] = await db.query<AppRow>(`SELECT ${APP} FROM gateway_apps WHERE id = $1`, [id]);
      return row ? toApp(row) : null;
    },

    async apps(limit: number): Promise<AppRecord[]> {
      const rows = await db.query<AppRow>(`SELECT ${APP} FROM gateway_apps ORDER BY lower(name) LIMIT $1`, [limit]);
      return rows.map(toApp);
    },

    /** Replace the key (the old one stops working, and the tokens it got); null when there is no such app. */
    async rotateAppKey(id: string, key: { keyPrefix: string; keyHash: string }, audit: AuditEntry): Promise<AppRecord | null> {
      return db.transaction(async (tx) => {
        const [row] = await tx.query<AppRow>(
          `UPDATE gateway_apps SET key_prefix = $2, key_hash = $3, token_version = token_version + 1, modified_at = now()
           WHERE id = $1 RETURNING ${APP}`,
          [id, key.keyPrefix, key.keyHash],
        );
        if (!row) return null;
        await appendAudit(tx, [audit]);
        await announce(tx, row.id, row.disabled ? -1 : row.token_version);
        return toApp(row);
      });
    },

    async deleteApp(id: string, audit: AuditEntry): Promise<boolean> {
      return db.transaction(async (tx) => {
        const rows = await tx.query(`DELETE FROM gateway_apps WHERE id = $1 RETURNING id`, [id]);
        if (rows.length > 0) await appendAudit(tx, [audit]);
        if (rows.length > 0) await announce(tx, id, -1);
        return rows.length > 0;
      });
    },

    /** Token versions of every account, by subject id: what a token must carry to be honoured. */
    async tokenVersions(): Promise<Map<string, number>> {
      const rows = await db.query<{ id: string; v: number }>(
        `SELECT id::text AS id, CASE WHEN disabled THEN -1 ELSE token_version END AS v FROM gateway_users
         UNION ALL SELECT id::text, CASE WHEN disabled THEN -1 ELSE token_version END FROM gateway_apps`,
      );
      return new Map(rows.map((r) => [r.id, r.v]));
    },
  };
}

export type AccountStore = ReturnType<typeof createAccountStore>;
