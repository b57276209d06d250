import { randomUUID } from 'node:crypto';
import { utils } from 'ssh2';
import { auditEntry, type Caller } from './audit';
import { createSealer } from './auth-secrets';
import { requireRole, type Principal, type Role } from './auth';
import { AppError, badInput, notFound, unavailable, type FieldErrors } from './errors';
import type { SshCredential } from './inventory';
import type { Host, HostInput } from './model';
import type { CredentialSource } from './scanner/credentialed';
import { SealError, type SecretKey } from './secrets';
import { CredentialKind, type Credential, type ResealCounts, type Store } from './store';
import type { Page } from './service';
import { SIGNING_KEY_PURPOSE } from './token-keys';
import { TOTP_SEED_PURPOSE } from './totp';
import { describe, hasControlCharacters, intParam, uuidParam } from './validate';

const CREDENTIAL_ROLES: readonly Role[] = ['Admin'];

/** Bounds on what a caller may send; a secret beyond them is refused without being echoed. */
export const CREDENTIAL_LIMITS = Object.freeze({ nameLength: 128, usernameLength: 255, passwordLength: 1024, privateKeyLength: 16_384 });

/** A credential as a caller writes it. Secret fields are write-only: nothing returns them. */
export interface CredentialInput {
  name?: unknown;
  kind?: unknown;
  username?: unknown;
  password?: unknown;
  privateKey?: unknown;
  passphrase?: unknown;
}

/** What the sealed record holds. */
type Secret = { password: string } | { privateKey: string; passphrase: string | null };

const NO_KEY = 'Credentials cannot be stored: CREDENTIALS_KEY is not set (required when NODE_ENV=production). Set it to the base64 of 32 random bytes, or a file holding it, and restart.';
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
// A lone surrogate has no UTF-8 form: the database would store a replacement character instead.
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Credentials (service accounts) and SSH host key trust: Admin only, every change in the audit trail in
 * its own transaction. Secrets are sealed here (secrets.ts) before the store sees them, and no answer,
 * error or audit record ever holds one.
 */
export class CredentialService {
  constructor(private readonly o: { store: Store; key: SecretKey | null }) {}

  private get store() {
    return this.o.store;
  }

  async list(principal: Principal, input: { first?: unknown; after?: unknown }): Promise<Page<Credential>> {
    requireRole(principal, CREDENTIAL_ROLES);
    const first = intParam(input.first, 'first', 50, 1, 500);
    let after: { name: string; id: string } | null = null;
    if (input.after != null) {
      const text = typeof input.after === 'string' && input.after.length <= 1024 ? Buffer.from(input.after, 'base64url').toString('utf8') : '';
      const m = /^credential:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):(.*)$/s.exec(text);
      if (!m || hasControlCharacters(m[2]!)) throw badInput({ after: ['Not a cursor returned by this API.'] });
      after = { id: m[1]!, name: m[2]! };
    }
    const items = await this.store.credentials.list({ limit: first + 1, after });
    return { items: items.slice(0, first), hasMore: items.length > first };
  }

  async get(principal: Principal, input: { id: unknown }): Promise<Credential> {
    requireRole(principal, CREDENTIAL_ROLES);
    const id = uuidParam(input.id, 'id');
    const credential = await this.store.credentials.get(id);
    if (!credential) throw notFound(`No credential has the id ${id}.`);
    return credential;
  }

  /** The hosts that log in with each credential, by name, at most `limit` each. */
  async hostsUsing(principal: Principal, ids: readonly string[], limit: number): Promise<Map<string, { id: string; name: string }[]>> {
    requireRole(principal, CREDENTIAL_ROLES);
    return this.store.credentials.hostsUsing(ids, limit);
  }

  async create(caller: Caller, input: CredentialInput): Promise<Credential> {
    requireRole(caller, CREDENTIAL_ROLES);
    const errors: FieldErrors = {};
    const name = text(input.name, 'name', CREDENTIAL_LIMITS.nameLength, errors);
    const username = text(input.username, 'username', CREDENTIAL_LIMITS.usernameLength, errors);
    const kind = kindOf(input.kind, errors);
    const secret = kind === null ? null : secretOf(kind, input, errors);
    if (Object.keys(errors).length > 0) throw badInput(errors);
    const key = this.requireKey();
    const id = randomUUID();
    const written = await this.store.credentials.create(
      { id, name: name!, kind: kind!, username: username!, sealed: key.seal(id, JSON.stringify(secret)) },
      auditEntry(caller, 'credential.create', id, { name, kind: CredentialKind[kind!], username }),
    );
    if ('nameTaken' in written) throw nameTaken(name!);
    return written.credential;
  }

  /** Change what is given. A new secret replaces the old one whole; changing the kind needs the new kind's secret. */
  async update(caller: Caller, input: CredentialInput & { id: unknown }): Promise<Credential> {
    requireRole(caller, CREDENTIAL_ROLES);
    const id = uuidParam(input.id, 'id');
    const errors: FieldErrors = {};
    const name = input.name == null ? undefined : text(input.name, 'name', CREDENTIAL_LIMITS.nameLength, errors);
    const username = input.username == null ? undefined : text(input.username, 'username', CREDENTIAL_LIMITS.usernameLength, errors);
    const newKind = input.kind == null ? null : kindOf(input.kind, errors);
    const givesSecret = input.password != null || input.privateKey != null || input.passphrase != null;
    if (Object.keys(errors).length > 0) throw badInput(errors);
    const current = await this.store.credentials.get(id);
    if (!current) throw notFound(`No credential has the id ${id}.`);
    const kind = newKind ?? current.kind;
    if (kind !== current.kind && !givesSecret) throw badInput({ kind: ['Changing the kind needs the new kind\'s secret with it.'] });
    const secret = givesSecret ? secretOf(kind, input, errors) : null;
    if (Object.keys(errors).length > 0) throw badInput(errors);
    const sealed = secret ? this.requireKey().seal(id, JSON.stringify(secret)) : undefined;
    const changed = [name !== undefined && 'name', username !== undefined && 'username', newKind !== null && 'kind', secret && 'secret'].filter(Boolean);
    const written = await this.store.credentials.update(
      id,
      { name: name ?? undefined, username: username ?? undefined, kind, sealed },
      auditEntry(caller, 'credential.update', id, { name: name ?? current.name, changed }),
    );
    if (!written) throw notFound(`No credential has the id ${id}.`);
    if ('nameTaken' in written) throw nameTaken(name!);
    return written.credential;
  }

  /** Refused while hosts use it (CONFLICT naming how many): point them at another credential, or at none, first. */
  async remove(caller: Caller, input: { id: unknown }): Promise<boolean> {
    requireRole(caller, CREDENTIAL_ROLES);
    const id = uuidParam(input.id, 'id');
    const result = await this.store.credentials.remove(id, auditEntry(caller, 'credential.remove', id));
    if (result.inUse > 0) {
      throw new AppError('CONFLICT', `Credential ${id} is used by ${result.inUse} host${result.inUse === 1 ? '' : 's'}; point ${result.inUse === 1 ? 'it' : 'them'} at another credential (or none) first. Nothing was removed.`);
    }
    if (!result.removed) throw notFound(`No credential has the id ${id}.`);
    return true;
  }

  /**
   * Re-seal under `next`, in one transaction, everything sealed with the credentials key: credentials,
   * TOTP seeds and token signing keys (a seed or key left behind would lock MFA users out, or stop token
   * issue, once the gateways run on `next`). Returns how many of each. The gateways then need `next` as
   * CREDENTIALS_KEY.
   */
  async rotateKey(caller: Caller, next: SecretKey): Promise<ResealCounts> {
    requireRole(caller, CREDENTIAL_ROLES);
    const key = this.requireKey();
    const from = createSealer(key);
    const to = createSealer(next);
    const reseal = (what: string, sealed: string, purpose: string) => {
      let plain: string;
      try {
        plain = from.open(sealed, purpose);
      } catch {
        // Key ids only: the stored text up to its first ':' is the id of the key that sealed it.
        throw new SealError(`${what} does not open with the configured key ${key.keyId} (it names key ${sealed.split(':', 1)[0]!.slice(0, 16)}); nothing was re-sealed.`);
      }
      return to.seal(plain, purpose);
    };
    return this.store.credentials.rotateKey(
      {
        credential: (id, sealed) => next.seal(id, key.open(id, sealed)),
        totpSeed: (userId, sealed) => reseal(`The TOTP seed of user ${userId}`, sealed, TOTP_SEED_PURPOSE),
        signingKey: (kid, sealed) => reseal(`The token signing key ${kid}`, sealed, SIGNING_KEY_PURPOSE),
      },
      auditEntry(caller, 'credentials.rotate-key', null, { fromKeyId: key.keyId, toKeyId: next.keyId }),
    );
  }

  /** Trust the SSH host key a host presented, named by its fingerprint (it must be the one presented). */
  async acceptHostKey(caller: Caller, input: { hostId: unknown; fingerprint: unknown }): Promise<Host> {
    requireRole(caller, CREDENTIAL_ROLES);
    const hostId = uuidParam(input.hostId, 'hostId');
    const fingerprint = input.fingerprint;
    if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint)) {
      throw badInput({ fingerprint: [`${describe(fingerprint)} is not a SHA-256 host key fingerprint (SHA256: and 43 base64 characters).`] });
    }
    const result = await this.store.hosts.acceptHostKey(hostId, fingerprint, auditEntry(caller, 'host.accept-key', hostId, { fingerprint }));
    if ('unknown' in result) throw notFound(`No host has the id ${hostId}.`);
    if ('presented' in result) {
      throw new AppError('CONFLICT', result.presented === null
        ? `Host ${hostId} has presented no untrusted host key; nothing was trusted.`
        : `Host ${hostId} presented ${result.presented}, not ${fingerprint}; nothing was trusted.`);
    }
    return result.accepted;
  }

  private requireKey(): SecretKey {
    if (!this.o.key) throw unavailable(NO_KEY);
    return this.o.key;
  }
}

/** An opaque page cursor after `c` (base64url of `credential:id:name`). */
export const credentialCursor = (c: Credential): string => Buffer.from(`credential:${c.id}:${c.name}`).toString('base64url');

/**
 * Host declarations with their `credentialName` (or `credentialId`) checked and resolved to ids; BAD_INPUT
 * keyed `$[i].credentialName` / `$[i].credentialId` for each that names no credential.
 */
export async function resolveCredentialRefs(store: Store, hosts: readonly HostInput[]): Promise<HostInput[]> {
  const refs = hosts.flatMap((h) => [h.credentialName, h.credentialId].filter((r): r is string => typeof r === 'string'));
  const found = await store.credentials.resolve(refs);
  const errors: FieldErrors = {};
  const resolved = hosts.map((h, i) => {
    const { credentialName, ...rest } = h;
    if (typeof credentialName === 'string') {
      const id = found.get(credentialName);
      if (!id) errors[`$[${i}].credentialName`] = [`No credential is named ${describe(credentialName)}.`];
      return { ...rest, credentialId: id ?? null };
    }
    if (typeof h.credentialId === 'string' && !found.has(h.credentialId)) errors[`$[${i}].credentialId`] = [`No credential has the id ${h.credentialId}.`];
    return credentialName === null && h.credentialId === undefined ? { ...rest, credentialId: null } : rest;
  });
  if (Object.keys(errors).length > 0) throw badInput(errors);
  return resolved;
}

/** The scanner's way to a host's credential: the sealed record opened with the gateway's key, for one session. */
export function credentialVault(store: Store, key: SecretKey | null): CredentialSource {
  return {
    async reveal(credentialId: string): Promise<SshCredential | null> {
      const record = await store.credentials.sealed(credentialId);
      if (!record) return null;
      if (!key) throw new SealError('CREDENTIALS_KEY is not set, so the host\'s credential cannot be opened; not logged in.');
      const secret = JSON.parse(key.open(credentialId, record.sealed).toString('utf8')) as Secret;
      if ('password' in secret) return { username: record.username, password: secret.password };
      return { username: record.username, privateKey: secret.privateKey, ...(secret.passphrase ? { passphrase: secret.passphrase } : {}) };
    },
  };
}

function text(value: unknown, key: string, max: number, errors: FieldErrors): string | null {
  const t = typeof value === 'string' ? value.trim() : null;
  if (t === null || t.length === 0 || t.length > max || hasControlCharacters(t) || LONE_SURROGATE.test(t)) {
    errors[key] = [`Text of 1 to ${max} characters without control characters (valid Unicode) is required.`];
    return null;
  }
  return t;
}

function kindOf(value: unknown, errors: FieldErrors): CredentialKind | null {
  if (value === CredentialKind.SshPassword || value === CredentialKind.SshPrivateKey) return value;
  errors.kind = ['Expected SshPassword (0) or SshPrivateKey (1).'];
  return null;
}

// Messages about secrets say what is wrong and never quote the value.
function secretOf(kind: CredentialKind, input: CredentialInput, errors: FieldErrors): Secret | null {
  const isSecret = (v: unknown, max: number) => typeof v === 'string' && v.length > 0 && v.length <= max && !LONE_SURROGATE.test(v) && !v.includes('\u0000');
  if (kind === CredentialKind.SshPassword) {
    if (input.privateKey != null || input.passphrase != null) errors.privateKey = ['A password credential takes no private key or passphrase.'];
    if (!isSecret(input.password, CREDENTIAL_LIMITS.passwordLength)) {
      errors.password = [`A password of 1 to ${CREDENTIAL_LIMITS.passwordLength} characters is required.`];
      return null;
    }
    return { password: input.password as string };
  }
  if (input.password != null) errors.password = ['A private key credential takes no password (a passphrase goes in passphrase).'];
  if (input.passphrase != null && !isSecret(input.passphrase, CREDENTIAL_LIMITS.passwordLength)) {
    errors.passphrase = [`A passphrase has 1 to ${CREDENTIAL_LIMITS.passwordLength} characters.`];
    return null;
  }
  if (!isSecret(input.privateKey, CREDENTIAL_LIMITS.privateKeyLength)) {
    errors.privateKey = [`A private key of 1 to ${CREDENTIAL_LIMITS.privateKeyLength} characters is required.`];
    return null;
  }
  const passphrase = (input.passphrase as string | undefined) ?? null;
  if (!parsesAsPrivateKey(input.privateKey as string, passphrase)) {
    errors.privateKey = ['Not a private key that can be read (OpenSSH or PEM), or the passphrase does not open it.'];
    return null;
  }
  return { privateKey: input.privateKey as string, passphrase };
}

function parsesAsPrivateKey(privateKey: string, passphrase: string | null): boolean {
  try {
    const parsed = utils.parseKey(privateKey, passphrase ?? undefined);
    if (parsed instanceof Error) return false;
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    return !!key && key.isPrivateKey();
  } catch {
    return false;
  }
}

function nameTaken(name: string): AppError {
  return badInput({ name: [`Another credential is named ${describe(name)}.`] });
}
