import type { AuditEntry } from '../audit';
import type { Sealed } from '../secrets';
import { appendAudit } from './audit';
import type { Sql } from './db';
import { SIGNING_KEY_LOCK } from './signing-keys';

/** What a credential logs in with (the `kind` column). */
export enum CredentialKind {
  SshPassword = 0,
  SshPrivateKey = 1,
}

/** A credential as anyone may see it: never its secret, sealed or not. */
export interface Credential {
  id: string;
  name: string;
  kind: CredentialKind;
  username: string;
  /** Hosts that log in with it. */
  hostCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface CredentialListQuery {
  limit: number;
  /** Credentials after this one in (lower(name), id) order. */
  after?: { name: string; id: string } | null;
}

export type CredentialWrite = { credential: Credential } | { nameTaken: true };

/** How `rotateKey` re-seals each kind of record under the new key; each throws when its record does not open. */
export interface Resealers {
  credential(id: string, sealed: Sealed): Sealed;
  /** A user's TOTP seed as stored (`keyId:envelope`). */
  totpSeed(userId: string, sealed: string): string;
  /** A token signing key's private half as stored (`keyId:envelope`). */
  signingKey(kid: string, sealed: string): string;
}

/** How many records of each kind a rotation re-sealed. */
export interface ResealCounts {
  credentials: number;
  totpSeeds: number;
  signingKeys: number;
}

const COLUMNS = `c.id, c.name, c.kind, c.username, c.created_at, c.modified_at,
  (SELECT count(*)::int FROM hosts h WHERE h.credential_id = c.id) AS host_count`;

interface Row {
  id: string;
  name: string;
  kind: number;
  username: string;
  created_at: Date;
  modified_at: Date;
  host_count: number;
}

const toCredential = (r: Row): Credential => ({
  id: r.id,
  name: r.name,
  kind: r.kind as CredentialKind,
  username: r.username,
  hostCount: r.host_count,
  createdAt: r.created_at,
  updatedAt: r.modified_at,
});

const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
const codeOf = (err: unknown) => (err as { code?: string }).code;

/**
 * Credentials and their sealed secrets. The store never sees a secret in the clear: it keeps what
 * secrets.ts sealed, and hands it back only through `sealed` (to the vault) and `rotateKey` (to re-seal).
 * Its statements run on the caller's thread (`rotateKey` re-seals between them, inside one transaction).
 */
export function createCredentialStore(db: Sql) {
  return {
    async create(input: { id: string; name: string; kind: CredentialKind; username: string; sealed: Sealed }, audit?: AuditEntry): Promise<CredentialWrite> {
      try {
        return await db.transaction(async (tx) => {
          const [row] = await tx.query<Row>(
            `INSERT INTO credentials AS c (id, name, kind, username, secret, key_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
            [input.id, input.name, input.kind, input.username, input.sealed.envelope, input.sealed.keyId],
          );
          if (audit) await appendAudit(tx, [audit]);
          return { credential: toCredential(row!) };
        });
      } catch (err) {
        if (codeOf(err) === UNIQUE_VIOLATION) return { nameTaken: true };
        throw err;
      }
    },

    /** Change what is given; null when there is no such credential. */
    async update(
      id: string,
      changes: { name?: string; username?: string; kind?: CredentialKind; sealed?: Sealed },
      audit?: AuditEntry,
    ): Promise<CredentialWrite | null> {
      try {
        return await db.transaction(async (tx) => {
          const [row] = await tx.query<Row>(
            `UPDATE credentials AS c SET name = coalesce($2, c.name), username = coalesce($3, c.username), kind = coalesce($4, c.kind),
               secret = coalesce($5, c.secret), key_id = coalesce($6, c.key_id), modified_at = now()
             WHERE c.id = $1 RETURNING ${COLUMNS}`,
            [id, changes.name ?? null, changes.username ?? null, changes.kind ?? null, changes.sealed?.envelope ?? null, changes.sealed?.keyId ?? null],
          );
          if (!row) return null;
          if (audit) await appendAudit(tx, [audit]);
          return { credential: toCredential(row) };
        });
      } catch (err) {
        if (codeOf(err) === UNIQUE_VIOLATION) return { nameTaken: true };
        throw err;
      }
    },

    /** Remove a credential no host uses. `inUse` counts the hosts that still do (nothing is removed then). */
    async remove(id: string, audit?: AuditEntry): Promise<{ removed: boolean; inUse: number }> {
      const attempt = () =>
        db.transaction(async (tx) => {
          const [use] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM hosts WHERE credential_id = $1', [id]);
          if (use!.n > 0) return { removed: false, inUse: use!.n };
          const rows = await tx.query<{ name: string }>('DELETE FROM credentials WHERE id = $1 RETURNING name', [id]);
          if (rows.length > 0 && audit) await appendAudit(tx, [{ ...audit, details: { ...audit.details, name: rows[0]!.name } }]);
          return { removed: rows.length > 0, inUse: 0 };
        });
      try {
        return await attempt();
      } catch (err) {
        // A host took it up between the count and the delete: count again.
        if (codeOf(err) === FOREIGN_KEY_VIOLATION) return attempt();
        throw err;
      }
    },

    async get(id: string): Promise<Credential | null> {
      const rows = await db.query<Row>(`SELECT ${COLUMNS} FROM credentials c WHERE c.id = $1`, [id]);
      return rows[0] ? toCredential(rows[0]) : null;
    },

    /** Ids of credentials by id or name (case-insensitive); what is unknown is left out. */
    async resolve(refs: readonly string[]): Promise<Map<string, string>> {
      if (refs.length === 0) return new Map();
      const rows = await db.query<{ ref: string; id: string }>(
        `SELECT r.ref, c.id FROM unnest($1::text[]) AS r(ref)
         JOIN credentials c ON c.id::text = lower(r.ref) OR lower(c.name) = lower(r.ref)`,
        [[...new Set(refs)]],
      );
      return new Map(rows.map((r) => [r.ref, r.id]));
    },

    async list(query: CredentialListQuery): Promise<Credential[]> {
      const rows = await db.query<Row>(
        `SELECT ${COLUMNS} FROM credentials c
         WHERE ($1::text IS NULL OR (lower(c.name), c.id) > (lower($1), $2::uuid))
         ORDER BY lower(c.name), c.id LIMIT $3`,
        [query.after?.name ?? null, query.after?.id ?? null, query.limit],
      );
      return rows.map(toCredential);
    },

    /** Hosts that use each of the credentials, by name, at most `limit` per credential. */
    async hostsUsing(ids: readonly string[], limit: number): Promise<Map<string, { id: string; name: string }[]>> {
      const using = new Map<string, { id: string; name: string }[]>(ids.map((id) => [id, []]));
      if (ids.length === 0) return using;
      const rows = await db.query<{ credential_id: string; id: string; name: string }>(
        `SELECT r.credential_id, r.id, r.name FROM (
           SELECT h.credential_id, h.id, h.name, row_number() OVER (PARTITION BY h.credential_id ORDER BY lower(h.name), h.id) AS n
           FROM hosts h WHERE h.credential_id = ANY($1::uuid[])) r
         WHERE r.n <= $2 ORDER BY r.credential_id, r.n`,
        [[...new Set(ids)], limit],
      );
      for (const r of rows) using.get(r.credential_id)?.push({ id: r.id, name: r.name });
      return using;
    },

    /** What the vault opens: the sealed secret and how to use it. */
    async sealed(id: string): Promise<{ kind: CredentialKind; username: string; sealed: Sealed } | null> {
      const rows = await db.query<{ kind: number; username: string; secret: string; key_id: string }>(
        'SELECT kind, username, secret, key_id FROM credentials WHERE id = $1',
        [id],
      );
      const r = rows[0];
      return r ? { kind: r.kind as CredentialKind, username: r.username, sealed: { envelope: r.secret, keyId: r.key_id } } : null;
    },

    /**
     * Re-seal everything sealed under the credentials key, in one transaction: credentials' secrets, TOTP
     * seeds and the token signing keys' private halves. Each row is locked, re-sealed by `reseal` and
     * written back; if `reseal` throws for any record, nothing changes. The signing keys' lock is held too,
     * so a gateway rotating its signing key waits rather than adding a key sealed under the old one.
     */
    async rotateKey(reseal: Resealers, audit?: AuditEntry): Promise<ResealCounts> {
      return db.transaction(async (tx) => {
        await tx.query(SIGNING_KEY_LOCK);
        const creds = await tx.query<{ id: string; secret: string; key_id: string }>('SELECT id, secret, key_id FROM credentials ORDER BY id FOR UPDATE');
        const seeds = await tx.query<{ id: string; totp_seed: string }>('SELECT id::text, totp_seed FROM gateway_users WHERE totp_seed IS NOT NULL ORDER BY id FOR UPDATE');
        const keys = await tx.query<{ kid: string; private_sealed: string }>('SELECT kid, private_sealed FROM gateway_signing_keys ORDER BY kid FOR UPDATE');
        // Every record is re-sealed before the first write, so one that does not open writes nothing.
        const nextCreds = creds.map((r) => ({ id: r.id, ...reseal.credential(r.id, { envelope: r.secret, keyId: r.key_id }) }));
        const nextSeeds = seeds.map((r) => ({ id: r.id, sealed: reseal.totpSeed(r.id, r.totp_seed) }));
        const nextKeys = keys.map((r) => ({ kid: r.kid, sealed: reseal.signingKey(r.kid, r.private_sealed) }));
        if (nextCreds.length > 0) {
          await tx.query(
            `UPDATE credentials c SET secret = v.secret, key_id = v.key_id
             FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, secret, key_id) WHERE c.id = v.id`,
            [nextCreds.map((n) => n.id), nextCreds.map((n) => n.envelope), nextCreds.map((n) => n.keyId)],
          );
        }
        // Not modified_at nor token_version: the account itself did not change.
        if (nextSeeds.length > 0) {
          await tx.query(
            `UPDATE gateway_users u SET totp_seed = v.sealed FROM unnest($1::uuid[], $2::text[]) AS v(id, sealed) WHERE u.id = v.id`,
            [nextSeeds.map((n) => n.id), nextSeeds.map((n) => n.sealed)],
          );
        }
        if (nextKeys.length > 0) {
          await tx.query(
            `UPDATE gateway_signing_keys k SET private_sealed = v.sealed FROM unnest($1::text[], $2::text[]) AS v(kid, sealed) WHERE k.kid = v.kid`,
            [nextKeys.map((n) => n.kid), nextKeys.map((n) => n.sealed)],
          );
        }
        const counts = { credentials: nextCreds.length, totpSeeds: nextSeeds.length, signingKeys: nextKeys.length };
        if (audit) await appendAudit(tx, [{ ...audit, details: { ...audit.details, ...counts } }]);
        return counts;
      });
    },
  };
}

export type CredentialStore = ReturnType<typeof createCredentialStore>;
