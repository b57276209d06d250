import { unavailable } from './errors';
import { randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ASPNET_ROLE_CLAIM, PRE_MFA_CLAIM, bearerToken, type IssuedTokens } from './auth';
import { unauthenticated } from './errors';
import type { KeyRing } from './token-keys';

export interface TokenSettings {
  /** Full tokens' lifetime in seconds (the vendor's is about 15 minutes). */
  ttlS: number;
  issuer: string;
  audience: string;
}

/** What a full token says about its holder. `version` is the account's token version (see accounts). */
export interface TokenSubject {
  subject: string;
  name: string;
  roles: readonly string[];
  version: number;
}

/**
 * A pre-MFA token opens only the second sign-in step, and only for this long (never longer than a full
 * token: a key's overlap after rotation covers TOKEN_TTL_S, and so every token it signed).
 */
export const PRE_MFA_TTL_S = 300;

/**
 * Signs the gateway's own tokens (ES256, with the newest stored key) and answers, for the verifier in
 * auth.ts, which keys it signed with and which account versions are current.
 */
export class TokenIssuer implements IssuedTokens {
  private readonly versions = new Map<string, number>();

  /** `keys` is null where no key can be kept (production without CREDENTIALS_KEY). */
  constructor(
    private readonly keys: KeyRing | null,
    private readonly settings: TokenSettings,
  ) {}

  /** Whether this instance can sign (it holds the signing key's private half). */
  get canSign(): boolean {
    return !!this.keys?.signer()?.privateKey;
  }

  get issuer(): string {
    return this.settings.issuer;
  }

  get audience(): string {
    return this.settings.audience;
  }

  key(kid: string): KeyObject | undefined {
    return this.keys?.key(kid);
  }

  version(subject: string): number | undefined {
    return this.versions.get(subject);
  }

  /** The accounts whose token version this instance holds. */
  subjects(): IterableIterator<string> {
    return this.versions.keys();
  }

  /** Set an account's current token version (-1: none of its tokens is honoured). */
  setVersion(subject: string, version: number): void {
    this.versions.set(subject, version);
  }

  /** The public keys, for /.well-known/jwks.json. */
  jwks(): { keys: JsonWebKey[] } {
    return { keys: (this.keys?.published() ?? []).map((k) => k.publicJwk) };
  }

  /** A full token: sub, name, roles (also as the ASP.NET role claim), ver, jti, iat, exp. */
  async issue(who: TokenSubject): Promise<{ token: string; expiresAt: Date }> {
    const claims = { name: who.name, roles: [...who.roles], [ASPNET_ROLE_CLAIM]: [...who.roles], ver: who.version };
    return this.sign(who.subject, claims, this.settings.ttlS);
  }

  /** A pre-MFA token for `subject`, bound to the MFA cookie by `binding` (a hash of the cookie). */
  async issuePreMfa(subject: string, binding: string): Promise<{ token: string; expiresAt: Date }> {
    return this.sign(subject, { [PRE_MFA_CLAIM]: binding }, Math.min(PRE_MFA_TTL_S, this.settings.ttlS));
  }

  /**
   * The subject and cookie binding of a pre-MFA token this gateway issued (from an `Authorization`
   * header); UNAUTHENTICATED for anything else, a full token included.
   */
  verifyPreMfa(authorization: string | undefined): { subject: string; binding: string } {
    const token = bearerToken(authorization);
    if (!token) throw unauthenticated('The pre-MFA token from /signinBody is required (Authorization: Bearer <token>).');
    const kid = jwt.decode(token, { complete: true })?.header.kid;
    const key = kid ? this.key(kid) : undefined;
    let payload: jwt.JwtPayload | string;
    try {
      if (!key) throw new Error('unknown key');
      payload = jwt.verify(token, key, { algorithms: ['ES256'], issuer: this.settings.issuer, audience: this.settings.audience });
    } catch {
      throw unauthenticated('The pre-MFA token is not valid or has expired; sign in again.');
    }
    const binding = typeof payload === 'object' ? payload[PRE_MFA_CLAIM] : undefined;
    if (typeof binding !== 'string' || typeof (payload as jwt.JwtPayload).sub !== 'string') {
      throw unauthenticated('The pre-MFA token is not valid or has expired; sign in again.');
    }
    return { subject: (payload as jwt.JwtPayload).sub!, binding };
  }

  private async sign(subject: string, claims: Record<string, unknown>, ttlS: number): Promise<{ token: string; expiresAt: Date }> {
    const { SignJWT } = await import('jose');
    const key = this.keys?.signer();
    if (!key) throw unavailable('This gateway issues no tokens: CREDENTIALS_KEY is not set (NODE_ENV=production), so it keeps no signing key.');
    if (!key.privateKey) {
      throw unavailable('This gateway issues no tokens: its CREDENTIALS_KEY does not open the signing key another instance sealed; give every instance the same CREDENTIALS_KEY.');
    }
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
      .setSubject(subject)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlS)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresAt: new Date((now + ttlS) * 1000) };
  }
}
