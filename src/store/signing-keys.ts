import type { Sql } from './db';

/** A token signing key as stored: the public half as a JWK, the private half sealed by the gateway. */
export interface SigningKeyRecord {
  kid: string;
  publicJwk: Record<string, unknown>;
  privateSealed: string;
  createdAt: Date;
}

/** The gateway's own token signing keys, shared by every instance on the database. */
export function createSigningKeyStore(db: Sql) {
  const list = async (): Promise<SigningKeyRecord[]> => {
      const rows = await db.query<{ kid: string; public_jwk: Record<string, unknown>; private_sealed: string; created_at: Date }>(
        `SELECT kid, public_jwk, private_sealed, created_at FROM gateway_signing_keys ORDER BY created_at DESC, kid`,
      );
    return rows.map((r) => ({ kid: r.kid, publicJwk: r.public_jwk, privateSealed: r.private_sealed, createdAt: r.created_at }));
  };
  return {
    /** Newest first. */
    list,

    /**
     * Add `key` unless a key exists already (instances starting together: the first one's key wins).
     * Returns the keys after the call, newest first.
     */
    async addFirst(key: Omit<SigningKeyRecord, 'createdAt'>): Promise<SigningKeyRecord[]> {
      await db.transaction(async (tx) => {
        await tx.query(`SELECT pg_advisory_xact_lock(hashtext('scan-gateway:signing-key'))`);
        const [existing] = await tx.query(`SELECT kid FROM gateway_signing_keys LIMIT 1`);
        if (existing) return;
        await tx.query(`INSERT INTO gateway_signing_keys (kid, public_jwk, private_sealed) VALUES ($1, $2::jsonb, $3)`,
          [key.kid, JSON.stringify(key.publicJwk), key.privateSealed]);
      });
      return list();
    },
  };
}

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;
