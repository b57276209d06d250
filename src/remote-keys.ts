import type { JWTPayload } from 'jose' with { 'resolution-mode': 'import' };
import { unauthenticated } from './errors';

/** Tokens of an external identity provider, verified against the keys it publishes. */
export interface RemoteVerifier {
  verify(token: string): Promise<JWTPayload>;
  /** Why the provider's keys cannot be had now (for readiness), or null. */
  problem(): string | null;
}

export interface RemoteOptions {
  /** The provider's JWKS; or found by OpenID discovery from `oidcIssuer`. */
  jwksUrl: string | null;
  oidcIssuer: string | null;
  /** Checked when set; with `oidcIssuer`, defaults to it. */
  issuer: string | null;
  audience: string | null;
  timeoutMs?: number;
  /** Least time between two fetches of the JWKS (a token with an unknown `kid` asks for one). */
  cooldownMs?: number;
}

// The algorithms an identity provider's keys may sign with; the key type decides among them (jose).
const ALGORITHMS = ['RS256', 'PS256', 'ES256', 'ES384'];
const CLOCK_TOLERANCE_S = 30;

/**
 * jose's remote JWKS: cached keys, refetched when a token names an unknown `kid` (at most every 30 s),
 * and at most every 10 minutes otherwise. When the provider does not answer, tokens signed with keys it
 * has not shown us are refused (401), never let through.
 */
export async function createRemoteVerifier(o: RemoteOptions): Promise<RemoteVerifier> {
  const jose = await import('jose');
  let jwksUrl = o.jwksUrl;
  let issuer = o.issuer;
  if (!jwksUrl && o.oidcIssuer) {
    const discovery = await discover(o.oidcIssuer, o.timeoutMs ?? 5_000);
    jwksUrl = discovery.jwks_uri;
    issuer ??= discovery.issuer;
  }
  if (!jwksUrl) throw new Error('JWT_JWKS_URL or JWT_OIDC_ISSUER is required for an external identity provider.');
  const keys = jose.createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: o.timeoutMs ?? 5_000, cooldownDuration: o.cooldownMs ?? 30_000, cacheMaxAge: 600_000 });
  let problem: string | null = null;
  return {
    problem: () => problem,
    async verify(token) {
      try {
        const { payload } = await jose.jwtVerify(token, keys, {
          algorithms: ALGORITHMS,
          clockTolerance: CLOCK_TOLERANCE_S,
          ...(issuer ? { issuer } : {}),
          ...(o.audience ? { audience: o.audience } : {}),
        });
        problem = null;
        return payload;
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JOSE_GENERIC' || code === 'ERR_JWKS_INVALID' || err instanceof TypeError) {
          problem = `The identity provider's keys at ${jwksUrl} could not be fetched.`;
          throw unauthenticated('The identity provider cannot be reached to check this token; try again later.');
        }
        if (code === 'ERR_JWKS_NO_MATCHING_KEY') throw unauthenticated('The bearer token is signed with a key the identity provider does not publish.');
        if (code === 'ERR_JWT_EXPIRED') throw unauthenticated('The bearer token has expired.');
        if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
          const claim = (err as { claim?: string }).claim;
          if (claim === 'iss') throw unauthenticated('The bearer token was issued by an issuer this gateway does not accept.');
          if (claim === 'aud') throw unauthenticated('The bearer token is meant for another audience.');
        }
        throw unauthenticated('The bearer token is not valid.');
      }
    },
  };
}

async function discover(issuer: string, timeoutMs: number): Promise<{ jwks_uri: string; issuer: string }> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`OpenID discovery at ${url} answered ${res.status}.`);
  const doc = (await res.json()) as { jwks_uri?: unknown; issuer?: unknown };
  if (typeof doc.jwks_uri !== 'string' || typeof doc.issuer !== 'string') throw new Error(`OpenID discovery at ${url} gave no jwks_uri or issuer.`);
  return { jwks_uri: doc.jwks_uri, issuer: doc.issuer };
}
