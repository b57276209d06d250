import { createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import jwt, { type Algorithm } from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { forbidden, unauthenticated } from './errors';
import type { RemoteVerifier } from './remote-keys';
import { hasControlCharacters } from './validate';

export const ROLES = ['Admin', 'App'] as const;
/** The roles this gateway knows; every other role claim is ignored. */
export type Role = (typeof ROLES)[number];

/** Who is calling, as proven by a verified token. */
export interface Principal {
  readonly subject: string;
  readonly userName: string;
  readonly roles: ReadonlySet<Role>;
  /** Token expiry, milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** Turns a bearer token into a Principal or throws UNAUTHENTICATED. */
export interface TokenVerifier {
  readonly algorithms: readonly Algorithm[];
  verify(token: string): Promise<Principal>;
  /** Why tokens of the external identity provider cannot be checked now (readiness), or null. */
  problem(): string | null;
}

export interface KeyOptions {
  secret?: Buffer | KeyObject | null;
  publicKeyPem?: string | null;
  issuer?: string | null;
  audience?: string | null;
  /** Refuse tokens issued (`iat`) longer ago than this many seconds; they must then carry `iat`. */
  maxAgeS?: number | null;
  /** Refuse tokens that claim to live longer than this many seconds (from `iat`, or from now without one). */
  maxLifetimeS?: number | null;
  /** Tokens this gateway issued itself (ES256, known by `kid`), accepted beside the configured key. */
  issued?: IssuedTokens | null;
  /** An external identity provider's tokens (asymmetric algorithms the configured key does not use). */
  remote?: RemoteVerifier | null;
  /** Where roles are in an external token, as a dotted path (`realm_access.roles`); beside the usual claims. */
  rolesClaim?: string | null;
  /** An identity provider's role or group names mapped onto this gateway's roles. */
  roleMap?: ReadonlyMap<string, Role> | null;
}

/** What the verifier needs to know about the tokens the gateway issues (see token-issuer.ts). */
export interface IssuedTokens {
  readonly issuer: string;
  readonly audience: string;
  /** The public key the gateway signed with under `kid`, if it is one of its own. */
  key(kid: string): KeyObject | undefined;
  /** The token version an account's tokens must carry: -1 when none is honoured, undefined when not known here. */
  version(subject: string): number | undefined;
  /**
   * Remember the version a token carries for an account not yet known here (created on another instance),
   * so that its deletion, noticed as its absence from the store, revokes that token here too.
   */
  setVersion(subject: string, version: number): void;
}

export const ASPNET_ROLE_CLAIM = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
const ASPNET_NAME_CLAIM = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name';
/** Marks a pre-MFA token, which opens nothing but the second sign-in step; its value binds the MFA cookie. */
export const PRE_MFA_CLAIM = 'pre_mfa';
const PRE_MFA_REFUSED = 'This token only completes a sign-in (POST /signin2fa with the code); it opens nothing else.';
export const CLOCK_TOLERANCE_S = 30;
const MAX_NAME_LENGTH = 255;
const MAX_TOKEN_LENGTH = 8192;
// RFC 8725bis §3.14: a compact JWS holds only base64url segments and two dots.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

// Verified tokens are remembered (by their exact text) until they expire: a client sends the same
// token with every request, and a map lookup costs less than checking the signature again.
const VERIFIED_KEPT = 10_000;

/**
 * Build the key once (a KeyObject verifies ~50× faster than a string secret) and fix the allowed
 * algorithms from the key type, never from the token.
 */
export function createVerifier(options: KeyOptions): TokenVerifier {
  const { key, algorithms } = verificationKey(options);
  const verifyOptions: jwt.VerifyOptions = {
    algorithms: [...algorithms],
    clockTolerance: CLOCK_TOLERANCE_S,
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  };
  const issued = options.issued ?? null;
  const issuedOptions: jwt.VerifyOptions | null = issued
    ? { algorithms: ['ES256'], clockTolerance: CLOCK_TOLERANCE_S, issuer: issued.issuer, audience: issued.audience }
    : null;
  // `version` is set for the gateway's own tokens: checked again on every use, so a revocation is at once.
  const verified = new LRUCache<string, { principal: Principal; version: number | null }>({ max: VERIFIED_KEPT });
  const refuseRevoked = (subject: string, version: number) => {
    const current = issued?.version(subject);
    if (current === undefined) issued?.setVersion(subject, version);
    else if (current !== version) throw unauthenticated('The bearer token has been revoked.');
  };
  const remote = options.remote ?? null;
  return {
    algorithms,
    problem: () => remote?.problem() ?? null,
    async verify(token: string): Promise<Principal> {
      const known = verified.get(token);
      if (known) {
        if (Date.now() <= known.principal.expiresAt + CLOCK_TOLERANCE_S * 1000) {
          if (known.version !== null) refuseRevoked(known.principal.subject, known.version);
          return known.principal;
        }
        verified.delete(token);
      }
      if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw unauthenticated('The bearer token is malformed.');
      }
      const header = refuseCriticalHeaders(token);
      const ownKey = issued && typeof header.kid === 'string' ? issued.key(header.kid) : undefined;
      let payload: string | jwt.JwtPayload;
      if (!ownKey && remote && typeof header.alg === 'string' && header.alg !== 'HS256' && !algorithms.includes(header.alg as Algorithm)) {
        payload = (await remote.verify(token)) as jwt.JwtPayload;
      } else {
        try {
          payload = ownKey ? jwt.verify(token, ownKey, issuedOptions!) : jwt.verify(token, key, verifyOptions);
        } catch (err) {
          throw unauthenticated(describeJwtError(err));
        }
      }
      if (typeof payload === 'object' && payload !== null && PRE_MFA_CLAIM in payload) throw unauthenticated(PRE_MFA_REFUSED);
      const principal = principalFrom(payload, options);
      let version: number | null = null;
      if (ownKey) {
        version = (payload as jwt.JwtPayload).ver;
        if (typeof version !== 'number') throw unauthenticated('The bearer token is not valid.');
        refuseRevoked(principal.subject, version);
      }
      verified.set(token, { principal, version });
      return principal;
    },
  };
}

/**
 * RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` names extensions it does not
 * understand, and this gateway understands none. jsonwebtoken does not look at `crit`. Returns the header.
 */
function refuseCriticalHeaders(token: string): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
  } catch {
    throw unauthenticated('The bearer token is malformed.');
  }
  if (typeof header === 'object' && header !== null && 'crit' in header) {
    throw unauthenticated('The bearer token has critical header parameters (crit) this gateway does not support.');
  }
  if (typeof header !== 'object' || header === null) throw unauthenticated('The bearer token is malformed.');
  return header as Record<string, unknown>;
}

function verificationKey(options: KeyOptions): { key: KeyObject; algorithms: readonly Algorithm[] } {
  if (options.secret) {
    const key = Buffer.isBuffer(options.secret) ? createSecretKey(options.secret) : options.secret;
    return { key, algorithms: ['HS256'] };
  }
  if (!options.publicKeyPem) throw new Error('A token key is required.');
  const key = createPublicKey(options.publicKeyPem);
  return { key, algorithms: [algorithmFor(key)] };
}

/** The one algorithm a public key may verify; throws for key types and sizes we refuse. */
export function algorithmFor(key: KeyObject): Algorithm {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) throw new Error('RSA keys must have at least 2048 bits.');
    return 'RS256';
  }
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return 'ES256';
    if (details.namedCurve === 'secp384r1') return 'ES384';
  }
  throw new Error(`Unsupported public key type ${key.asymmetricKeyType ?? 'unknown'}; use RSA (RS256) or EC P-256 (ES256).`);
}

function describeJwtError(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'The bearer token has expired.';
  if (err instanceof jwt.NotBeforeError) return 'The bearer token is not valid yet.';
  const message = err instanceof Error ? err.message : '';
  if (message.startsWith('jwt issuer invalid')) return 'The bearer token was issued by an issuer this gateway does not accept.';
  if (message.startsWith('jwt audience invalid')) return 'The bearer token is meant for another audience.';
  return 'The bearer token is not valid.';
}

/**
 * The caller a verified payload names. Its `expiresAt` is when the token stops being accepted: `exp`, or
 * earlier when JWT_MAX_AGE_S ends its life first, so a remembered token is dropped at the same moment a
 * new one would be refused. JWT_MAX_AGE_S is checked here, not by the libraries, so that the configured
 * key, the gateway's own keys and an identity provider's keys all apply it alike (jose and jsonwebtoken
 * each take it only when asked, and the gateway's own and the provider's paths never asked).
 */
function principalFrom(payload: string | jwt.JwtPayload, options: KeyOptions): Principal {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw unauthenticated('The bearer token payload is not a JSON object.');
  }
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw unauthenticated('The bearer token has no expiry (exp).');
  const iat = typeof payload.iat === 'number' && Number.isFinite(payload.iat) ? payload.iat : null;
  if (options.maxAgeS) {
    if (iat === null) throw unauthenticated('The bearer token has no issue time (iat), which this gateway requires.');
    if (Date.now() / 1000 > iat + options.maxAgeS + CLOCK_TOLERANCE_S) throw unauthenticated('The bearer token is older than this gateway accepts.');
  }
  if (options.maxLifetimeS && payload.exp - (iat ?? Date.now() / 1000) > options.maxLifetimeS + CLOCK_TOLERANCE_S) {
    throw unauthenticated('The bearer token claims a longer lifetime than this gateway accepts.');
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    throw unauthenticated('The bearer token has no subject (sub).');
  }
  // Subjects and names are stored with the jobs a caller schedules and shown to others.
  if (payload.sub.length > MAX_NAME_LENGTH || hasControlCharacters(payload.sub)) {
    throw unauthenticated('The bearer token subject (sub) is longer than 255 characters or holds control characters.');
  }
  const name = [payload.name, payload.unique_name, payload.preferred_username, payload[ASPNET_NAME_CLAIM]].find(
    (v): v is string => typeof v === 'string' && v !== '' && v.length <= MAX_NAME_LENGTH && !hasControlCharacters(v),
  );
  return {
    subject: payload.sub,
    userName: name ?? payload.sub,
    roles: rolesFrom(payload, options),
    expiresAt: Math.min(payload.exp, options.maxAgeS && iat !== null ? iat + options.maxAgeS : Infinity) * 1000,
  };
}

function rolesFrom(payload: jwt.JwtPayload, options: KeyOptions): Set<Role> {
  const roles = new Set<Role>();
  const configured = options.rolesClaim ? [claimAt(payload, options.rolesClaim)] : [];
  for (const claim of [payload.roles, payload.role, payload[ASPNET_ROLE_CLAIM], ...configured]) {
    const values: unknown[] = Array.isArray(claim) ? claim : [claim];
    for (const value of values) {
      if (typeof value !== 'string') continue;
      const role = options.roleMap?.get(value) ?? value;
      if (role === 'Admin' || role === 'App') roles.add(role);
    }
  }
  return roles;
}

/** The value at a dotted path (`realm_access.roles`), own properties only. */
function claimAt(payload: jwt.JwtPayload, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * The one way in for every edge: the principal of an `Authorization` header value (REST and GraphQL
 * over HTTP; WebSocket connectionParams carry the same value). UNAUTHENTICATED without a valid token.
 */
export async function authenticate(verifier: TokenVerifier, authorization: string | undefined): Promise<Principal> {
  const token = bearerToken(authorization);
  if (!token) throw unauthenticated('A bearer token is required (Authorization: Bearer <token>).');
  return verifier.verify(token);
}

/** The `WWW-Authenticate` challenge for a refused request (RFC 6750 §3): why, when a token was sent. */
export function challenge(reason: string, tokenSent: boolean): string {
  return tokenSent ? `Bearer error="invalid_token", error_description="${reason.replace(/["\\]/g, '')}"` : 'Bearer';
}

/** The token of an `Authorization: Bearer …` header, or null when there is none. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ \t]+(\S*)[ \t]*$/i.exec(header);
  return match?.[1] ? match[1] : null;
}

/** Throws FORBIDDEN unless the principal holds one of `allowed`. */
export function requireRole(principal: Principal, allowed: readonly Role[]): void {
  if (!allowed.some((role) => principal.roles.has(role))) {
    throw forbidden(`This operation requires the ${allowed.join(' or ')} role.`);
  }
}

export interface MintOptions {
  key: Buffer | KeyObject;
  subject: string;
  roles: readonly string[];
  name?: string;
  /** Seconds, or a vercel/ms string such as `15m`. */
  ttl: number | string;
  issuer?: string | null;
  audience?: string | null;
}

/** Sign an HS256 token the gateway accepts (used by `npm run token` and the development banner). */
export function mintToken(options: MintOptions): string {
  const key = Buffer.isBuffer(options.key) ? createSecretKey(options.key) : options.key;
  return jwt.sign({ roles: [...options.roles], ...(options.name ? { name: options.name } : {}) }, key, {
    algorithm: 'HS256',
    subject: options.subject,
    expiresIn: options.ttl as jwt.SignOptions['expiresIn'],
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  });
}

/** A random HS256 key for development runs without a configured key. */
export const ephemeralSecret = (): KeyObject => createSecretKey(randomBytes(32));
