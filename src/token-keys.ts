import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Sealer } from './auth-secrets';
import type { Store } from './store';

const PURPOSE = 'token-signing-key';

/** One of the gateway's ES256 keys: the private half to sign, the public half to verify and publish. */
export interface SigningKey {
  kid: string;
  /** Null where this instance's CREDENTIALS_KEY does not open it: it verifies with the key but cannot sign. */
  privateKey: KeyObject | null;
  publicKey: KeyObject;
  publicJwk: JsonWebKey;
}

/**
 * The gateway's signing keys, from the store. The first instance to start on a database makes the key
 * (ES256 on P-256, kid = its RFC 7638 thumbprint) and stores it with the private half sealed; every
 * instance then signs with the newest and verifies with all of them.
 */
export async function loadSigningKeys(store: Store, sealer: Sealer): Promise<SigningKey[]> {
  let records = await store.signingKeys.list();
  if (records.length === 0) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { calculateJwkThumbprint } = await import('jose');
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const kid = await calculateJwkThumbprint({ kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y });
    const publicJwk = { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' };
    const privateJwk = JSON.stringify(pair.privateKey.export({ format: 'jwk' }));
    records = await store.signingKeys.addFirst({ kid, publicJwk, privateSealed: sealer.seal(privateJwk, PURPOSE) });
  }
  return records.map((r) => {
    const publicJwk = r.publicJwk as JsonWebKey;
    return {
      kid: r.kid,
      privateKey: openPrivate(sealer, r.privateSealed),
      publicKey: createPublicKey({ key: publicJwk, format: 'jwk' }),
      publicJwk,
    };
  });
}

/** The private half, or null when it was sealed under another CREDENTIALS_KEY (another instance's development key). */
function openPrivate(sealer: Sealer, sealed: string): KeyObject | null {
  try {
    return createPrivateKey({ key: JSON.parse(sealer.open(sealed, PURPOSE)) as JsonWebKey, format: 'jwk' });
  } catch {
    return null;
  }
}
