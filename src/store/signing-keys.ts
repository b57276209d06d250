import type { AuditEntry } from '../audit';
import { appendAudit } from './audit';
import type { Queryable, Sql } from './db';

/** A token signing key as stored: the public half as a JWK, the private half sealed by the gateway. */
export interface SigningKeyRecord {
  kid: string;
  publicJwk: Record<string, unknown>;
  privateSealed: string;
  createdAt: Date;
  /** From when it signs; until then it is only published, so verifiers learn it before they meet it. */
  signsFrom: Date;
  /** When it stops verifying; null while it has no successor. */
  retiresAt: Date | null;
}

export type NewSigningKey = Omit<SigningKeyRecord, 'createdAt' | 'retiresAt'>;

// Instances starting or rotating together serialise on this lock, so the check and the insert are one step;
// a rotation of the credentials key takes it too (credentials.ts).
export const SIGNING_KEY_LOCK = `SELECT pg_advisory_xact_lock(hashtext('scan-gateway:signing-key'))`;

/** The gateway's own token signing keys, shared by every instance on the database. */
export function createSigningKeyStore(db: Sql) {
  const list = async (q: Queryable = db): Promise<SigningKeyRecord[]> => {
    const rows = await q.query<{ kid: string; public_jwk: Record<string, unknown>; private_sealed: string; created_at: Date; signs_from: Date; retires_at: Date | null }>(
      `SELECT kid, public_jwk, private_sealed, created_at, signs_from, retires_at FROM gateway_signing_keys ORDER BY signs_from DESC, kid`,
    );
    return rows.map((r) => ({
      kid: r.kid, publicJwk: r.public_jwk, privateSealed: r.private_sealed, createdAt: r.created_at, signsFrom: r.signs_from, retiresAt: r.retires_at,
    }));
  };
  const insert = (tx: Queryable, key: NewSigningKey) =>
    tx.query(`INSERT INTO gateway_signing_keys (kid, public_jwk, private_sealed, signs_from) VALUES ($1, $2::jsonb, $3, $4)`,
      [key.kid, JSON.stringify(key.publicJwk), key.privateSealed, key.signsFrom]);
  return {
    /** Newest (latest signs_from) first. */
    list: () => list(),

    /**
     * Add `key` unless a key exists already (instances starting together: the first one's key wins).
     * Returns the keys after the call, newest first.
     */
    async addFirst(key: NewSigningKey): Promise<SigningKeyRecord[]> {
      await db.transaction(async (tx) => {
        await tx.query(SIGNING_KEY_LOCK);
        const [existing] = await tx.query(`SELECT kid FROM gateway_signing_keys LIMIT 1`);
        if (existing) return;
        await insert(tx, key);
      });
      return list();
    },

    /**
     * Claim a rotation: add `key` as the successor of `after` only if `after` is still the newest key (so
     * instances deciding together rotate once), retire every other key without a retirement at
     * `retireAt`, and drop keys retired before `now`. `rotated` says whether this call made the change.
     */
    async rotate(input: { after: string; key: NewSigningKey; retireAt: Date; now: Date; audit: AuditEntry }): Promise<{ rotated: boolean; keys: SigningKeyRecord[] }> {
      const rotated = await db.transaction(async (tx) => {
        await tx.query(SIGNING_KEY_LOCK);
        const [newest] = await tx.query<{ kid: string }>(`SELECT kid FROM gateway_signing_keys ORDER BY signs_from DESC, kid LIMIT 1`);
        if (newest?.kid !== input.after) return false;
        await tx.query(`UPDATE gateway_signing_keys SET retires_at = $1 WHERE retires_at IS NULL`, [input.retireAt]);
        await tx.query(`DELETE FROM gateway_signing_keys WHERE retires_at < $1`, [input.now]);
        await insert(tx, input.key);
        await appendAudit(tx, [input.audit]);
        return true;
      });
      return { rotated, keys: await list() };
    },
  };
}

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;
