import { createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Sealer } from './auth-secrets';
import type { NewSigningKey, SigningKeyRecord } from './store';

/** What a private signing key is sealed for (bound in, so a sealed TOTP seed cannot pass for one). */
export const SIGNING_KEY_PURPOSE = 'token-signing-key';

/** One of the gateway's ES256 keys: the private half to sign, the public half to verify and publish. */
export interface SigningKey {
  kid: string;
  /** Null where this instance's CREDENTIALS_KEY does not open it: it verifies with the key but cannot sign. */
  privateKey: KeyObject | null;
  publicKey: KeyObject;
  publicJwk: JsonWebKey;
  signsFrom: Date;
  retiresAt: Date | null;
}

/** A new ES256 key on P-256 (kid = its RFC 7638 thumbprint), its private half sealed for the store. */
export async function newSigningKey(sealer: Sealer, signsFrom: Date): Promise<NewSigningKey> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { calculateJwkThumbprint } = await import('jose');
  const jwk = pair.publicKey.export({ format: 'jwk' });
  const kid = await calculateJwkThumbprint({ kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y });
  const publicJwk = { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' };
  const privateJwk = JSON.stringify(pair.privateKey.export({ format: 'jwk' }));
  return { kid, publicJwk, privateSealed: sealer.seal(privateJwk, SIGNING_KEY_PURPOSE), signsFrom };
}

/** Stored keys as this instance uses them; the private halves opened where its CREDENTIALS_KEY can. */
export function openSigningKeys(records: readonly SigningKeyRecord[], sealer: Sealer): SigningKey[] {
  return records.map((r) => {
    const publicJwk = r.publicJwk as JsonWebKey;
    return {
      kid: r.kid,
      privateKey: openPrivate(sealer, r.privateSealed),
      publicKey: createPublicKey({ key: publicJwk, format: 'jwk' }),
      publicJwk,
      signsFrom: r.signsFrom,
      retiresAt: r.retiresAt,
    };
  });
}

/**
 * The keys this instance knows, and which of them count at a given moment: a key is published from the
 * moment it is known until it retires, verifies over the same span, and signs from its `signsFrom` while it
 * is the latest to have reached it. Time decides, so every instance switches at the same moment without
 * talking to the others.
 */
export class KeyRing {
  private keys: SigningKey[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Replace what this instance knows with the store's keys. */
  replace(keys: readonly SigningKey[]): void {
    this.keys = [...keys].sort((a, b) => b.signsFrom.getTime() - a.signsFrom.getTime());
  }

  /** The key to sign with now: the latest to have reached its `signsFrom`. */
  signer(): SigningKey | undefined {
    const now = this.now();
    return this.keys.find((k) => k.signsFrom.getTime() <= now && !retired(k, now));
  }

  /** The newest key, signing or not yet: the one a rotation follows. */
  newest(): SigningKey | undefined {
    return this.keys[0];
  }

  /** The public key under `kid`, unless it has retired. */
  key(kid: string): KeyObject | undefined {
    const key = this.keys.find((k) => k.kid === kid);
    return key && !retired(key, this.now()) ? key.publicKey : undefined;
  }

  /** Every key not retired, the next one included before it signs. */
  published(): SigningKey[] {
    const now = this.now();
    return this.keys.filter((k) => !retired(k, now));
  }
}

const retired = (key: SigningKey, now: number) => key.retiresAt !== null && key.retiresAt.getTime() <= now;

/** The private half, or null when it was sealed under another CREDENTIALS_KEY (another instance's development key). */
function openPrivate(sealer: Sealer, sealed: string): KeyObject | null {
  try {
    return createPrivateKey({ key: JSON.parse(sealer.open(sealed, SIGNING_KEY_PURPOSE)) as JsonWebKey, format: 'jwk' });
  } catch {
    return null;
  }
}
