import { unavailable } from './errors';
import type { SecretKey } from './secrets';

/**
 * Seals the sign-in secrets kept in the store (TOTP seeds, private signing keys) with the credentials key
 * (secrets.ts: AES-256-GCM under CREDENTIALS_KEY). `purpose` is bound as the record id, so a sealed seed
 * cannot be passed off as a key. One text holds the key id and the envelope.
 */
export interface Sealer {
  seal(plain: string, purpose: string): string;
  /** Throws when the text was not sealed under this key for this purpose. */
  open(sealed: string, purpose: string): string;
}

const NO_KEY = 'CREDENTIALS_KEY is not set (NODE_ENV=production): sign-in secrets cannot be kept until it is.';

/** A sealer over the credentials key; without one (production, unset), every use fails UNAVAILABLE. */
export function createSealer(key: SecretKey | null): Sealer {
  return {
    seal(plain, purpose) {
      if (!key) throw unavailable(NO_KEY);
      const { keyId, envelope } = key.seal(purpose, plain);
      return `${keyId}:${envelope}`;
    },
    open(sealed, purpose) {
      if (!key) throw unavailable(NO_KEY);
      const at = sealed.indexOf(':');
      try {
        if (at < 0) throw new Error('Not a sealed value.');
        return key.open(purpose, { keyId: sealed.slice(0, at), envelope: sealed.slice(at + 1) }).toString('utf8');
      } catch {
        // Sealed under another CREDENTIALS_KEY (changed without rotate-key): an operator's fix, not the
        // caller's, so UNAVAILABLE (503) naming both key ids rather than an internal error.
        throw unavailable(`A sign-in secret in the store does not open with CREDENTIALS_KEY (key ${key.keyId}; it names key ${sealed.slice(0, Math.max(0, at)).slice(0, 16)}): was the key changed without rotate-key?`);
      }
    },
  };
}
