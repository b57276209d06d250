import { readFileSync } from 'node:fs';
import { DEFAULT_CONNECT_TIMEOUT, type ConnectTimeoutBounds } from './scanner/rtt';

/** Everything the gateway reads from its environment, parsed and checked once at start. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  /** Connections each instance keeps to PostgreSQL (server store only). */
  readonly databasePoolSize: number;
  readonly hostsFile: string | null;
  /** HS256 key bytes from `JWT_SECRET`. */
  readonly jwtSecret: Buffer | null;
  /** PEM text from `JWT_PUBLIC_KEY` (the value itself or a file it names). */
  readonly jwtPublicKey: string | null;
  readonly jwtIssuer: string | null;
  readonly jwtAudience: string | null;
  /** An external identity provider's JWKS (`JWT_JWKS_URL`) or OpenID issuer to discover it from (`JWT_OIDC_ISSUER`). */
  readonly jwtJwksUrl: string | null;
  readonly jwtOidcIssuer: string | null;
  /** Least time between two fetches of the provider's JWKS. */
  readonly jwtJwksCooldownMs: number;
  /** A dotted path to roles in external tokens (`realm_access.roles`). */
  readonly jwtRolesClaim: string | null;
  /** The provider's role or group names onto Admin and App, from `JWT_ROLE_MAP` (`name=Admin,other=App`). */
  readonly jwtRoleMap: ReadonlyMap<string, 'Admin' | 'App'> | null;
  /** Oldest token accepted, by its `iat`, in seconds; null accepts any age until `exp`. */
  readonly jwtMaxAgeS: number | null;
  /** Longest lifetime a token may claim (`exp` minus `iat`, or minus now without `iat`), in seconds. */
  readonly jwtMaxLifetimeS: number;
  readonly scanConcurrency: number;
  readonly scanTimeoutMs: number;
  /**
   * How long a probe's TCP connect waits for any answer before the port counts as silent: learnt from the
   * round trips seen, from `initialMs` and within [minMs, maxMs] (SCAN_CONNECT_TIMEOUT_MIN_MS, SCAN_CONNECT_TIMEOUT_MS).
   */
  readonly scanConnectTimeout: ConnectTimeoutBounds;
  readonly maxHostIds: number;
  /** How long a claimed scan stays leased without a heartbeat before another worker may take it. */
  readonly scanLeaseMs: number;
  /** Retries after an interrupted attempt (worker crash); then Failed / SystemError. */
  readonly scanRetryLimit: number;
  /** First retry delay; doubles with each attempt. */
  readonly scanRetryBackoffMs: number;
  readonly bodyLimitBytes: number;
  readonly graphql: {
    readonly maxDepth: number;
    readonly maxAliases: number;
    readonly maxDirectives: number;
    readonly maxTokens: number;
    readonly maxCost: number;
  };
  /** Subscriptions one WebSocket may hold at once. */
  readonly wsMaxSubscriptions: number;
  /** Largest WebSocket message accepted (close 1009 beyond). */
  readonly wsMaxPayloadBytes: number;
  /** WebSockets one token subject may hold open at once (close 4429 beyond). */
  readonly wsMaxSocketsPerSubject: number;
  /** Distinct subscription documents (after normalisation) one token subject may hold at once. */
  readonly wsMaxDocumentsPerSubject: number;
  /** Distinct subscription documents this instance serves at once, across all subjects. */
  readonly wsMaxDocuments: number;
  /** WebSockets one client address may hold before they are acknowledged (HTTP 429 at upgrade beyond). */
  readonly wsMaxPendingPerAddress: number;
  /** How long a new socket may take to send connection_init (close 4408 beyond). */
  readonly wsInitTimeoutMs: number;
  /** PEM certificate chain and key from TLS_CERT_FILE and TLS_KEY_FILE: serve HTTPS and WSS. */
  readonly tls: { readonly cert: string; readonly key: string } | null;
  /** On SIGTERM, how long scans in flight may finish before their leases are handed back. */
  readonly shutdownDrainMs: number;
  /** Audit records older than this many days are removed. */
  readonly auditRetentionDays: number;
  /** 32 bytes from `CREDENTIALS_KEY` (64 hex digits or base64) sealing sign-in secrets; null: a key file in DATA_DIR. */
  readonly credentialsKey: Buffer | null;
  /** Lifetime of the tokens the gateway issues at sign-in, in seconds. */
  readonly tokenTtlS: number;
  /** Whether people must pass a TOTP code to get a full token (SIGNIN_MFA=off turns it off, by choice). */
  readonly signinMfa: boolean;
  /** Failed sign-ins: slow down, then lock per account and per address (see lockout.ts). */
  readonly signinLockout: { readonly lockAfter: number; readonly lockAfterPerAddress: number; readonly lockoutMs: number; readonly slowAfter: number };
  readonly production: boolean;
  readonly logLevel: string;
}

/** A variable that cannot be used; the message names it and never echoes a secret. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable} ${message}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Parse the operator contract (see README) from `env`. Throws ConfigError naming the first bad variable.
 * Reads a file only when `JWT_PUBLIC_KEY` names one.
 */
export function loadConfig(env: Env): Config {
  const production = env.NODE_ENV === 'production';
  const maxHostIds = int(env, 'MAX_HOST_IDS', 1000, 1, 100_000);
  const jwtSecret = secret(env);
  const jwtPublicKey = publicKey(env);
  if (jwtSecret && jwtPublicKey) {
    throw new ConfigError('JWT_SECRET', 'and JWT_PUBLIC_KEY are both set; configure exactly one token key.');
  }
  const jwtIssuer = text(env, 'JWT_ISSUER');
  const jwtAudience = text(env, 'JWT_AUDIENCE');
  if (production) {
    if (!jwtSecret && !jwtPublicKey) {
      throw new ConfigError('JWT_SECRET', 'or JWT_PUBLIC_KEY is required when NODE_ENV=production.');
    }
    if (!jwtIssuer) throw new ConfigError('JWT_ISSUER', 'is required when NODE_ENV=production.');
    if (!jwtAudience) throw new ConfigError('JWT_AUDIENCE', 'is required when NODE_ENV=production.');
  }
  return Object.freeze({
    port: int(env, 'PORT', 6500, 0, 65535),
    host: text(env, 'HOST') ?? '0.0.0.0',
    dataDir: text(env, 'DATA_DIR') ?? './data',
    databaseUrl: databaseUrl(env),
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    hostsFile: text(env, 'HOSTS_FILE'),
    jwtSecret,
    jwtPublicKey,
    jwtIssuer,
    jwtAudience,
    jwtJwksUrl: httpUrl(env, 'JWT_JWKS_URL'),
    jwtOidcIssuer: httpUrl(env, 'JWT_OIDC_ISSUER'),
    jwtJwksCooldownMs: int(env, 'JWT_JWKS_COOLDOWN_MS', 30_000, 0, 3_600_000),
    jwtRolesClaim: text(env, 'JWT_ROLES_CLAIM'),
    jwtRoleMap: roleMap(env),
    jwtMaxAgeS: text(env, 'JWT_MAX_AGE_S') === null ? null : int(env, 'JWT_MAX_AGE_S', 0, 1, 31_536_000),
    jwtMaxLifetimeS: int(env, 'JWT_MAX_LIFETIME_S', 86_400, 60, 31_536_000),
    // A scan waiting on a silent host holds two sockets and no CPU: on a fleet of 2,000 with half of it
    // silent, 256 at once ended in 7.4–7.8 s where 32 took 8.4–12.9 s (bench/fleet.ts, bench/RESULTS.md).
    scanConcurrency: int(env, 'SCAN_CONCURRENCY', 256, 1, 10_000),
    scanTimeoutMs: int(env, 'SCAN_TIMEOUT_MS', 30_000, 100, 3_600_000),
    scanConnectTimeout: connectTimeout(env),
    maxHostIds,
    scanLeaseMs: int(env, 'SCAN_LEASE_MS', 15_000, 500, 600_000),
    scanRetryLimit: int(env, 'SCAN_RETRY_LIMIT', 2, 0, 20),
    scanRetryBackoffMs: int(env, 'SCAN_RETRY_BACKOFF_MS', 2_000, 0, 600_000),
    // Room for MAX_HOST_IDS quoted UUIDs with separators, never below 100 KiB.
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', Math.max(102_400, maxHostIds * 48), 1024, 64 * 1024 * 1024),
    graphql: Object.freeze({
      maxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 6, 1, 100),
      maxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 1000),
      maxDirectives: int(env, 'GRAPHQL_MAX_DIRECTIVES', 50, 0, 1000),
      // Room for MAX_HOST_IDS ids written inline; variables do not count as tokens.
      maxTokens: int(env, 'GRAPHQL_MAX_TOKENS', Math.max(5000, maxHostIds * 3), 100, 1_000_000),
      // GraphQL Armor multiplies by a literal `first`: a 1000-row page of twenty fields costs about 40000.
      maxCost: int(env, 'GRAPHQL_MAX_COST', 50_000, 10, 10_000_000),
    }),
    wsMaxSubscriptions: int(env, 'WS_MAX_SUBSCRIPTIONS', 10, 1, 1000),
    wsMaxPayloadBytes: int(env, 'WS_MAX_PAYLOAD_BYTES', 65_536, 1024, 16 * 1024 * 1024),
    wsMaxSocketsPerSubject: int(env, 'WS_MAX_SOCKETS_PER_SUBJECT', 20, 1, 100_000),
    wsMaxDocumentsPerSubject: int(env, 'WS_MAX_DOCUMENTS_PER_SUBJECT', 10, 1, 10_000),
    wsMaxDocuments: int(env, 'WS_MAX_DOCUMENTS', 100, 1, 100_000),
    wsMaxPendingPerAddress: int(env, 'WS_MAX_PENDING_PER_ADDRESS', 64, 1, 100_000),
    wsInitTimeoutMs: int(env, 'WS_INIT_TIMEOUT_MS', 3_000, 100, 60_000),
    tls: tls(env),
    shutdownDrainMs: int(env, 'SHUTDOWN_DRAIN_MS', 10_000, 0, 600_000),
    auditRetentionDays: int(env, 'AUDIT_RETENTION_DAYS', 365, 1, 36_500),
    credentialsKey: credentialsKey(env),
    tokenTtlS: int(env, 'TOKEN_TTL_S', 900, 60, 86_400),
    signinMfa: oneOf(env, 'SIGNIN_MFA', ['required', 'off'], 'required') === 'required',
    signinLockout: Object.freeze({
      lockAfter: int(env, 'SIGNIN_LOCK_AFTER', 10, 1, 1000),
      lockAfterPerAddress: int(env, 'SIGNIN_LOCK_AFTER_PER_ADDRESS', 100, 1, 100_000),
      lockoutMs: int(env, 'SIGNIN_LOCKOUT_S', 900, 1, 86_400) * 1000,
      slowAfter: int(env, 'SIGNIN_SLOW_AFTER', 3, 0, 1000),
    }),
    production,
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
  });
}

function text(env: Env, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw.slice(0, 40)}").`);
  }
  return Number(raw);
}

/** The connect timeout's bounds; the first timeout is nmap's 1 s, within them. */
function connectTimeout(env: Env): ConnectTimeoutBounds {
  const maxMs = int(env, 'SCAN_CONNECT_TIMEOUT_MS', DEFAULT_CONNECT_TIMEOUT.maxMs, 10, 60_000);
  const explicitMin = text(env, 'SCAN_CONNECT_TIMEOUT_MIN_MS') !== null;
  const minMs = int(env, 'SCAN_CONNECT_TIMEOUT_MIN_MS', Math.min(DEFAULT_CONNECT_TIMEOUT.minMs, maxMs), 1, 60_000);
  if (explicitMin && minMs > maxMs) {
    throw new ConfigError('SCAN_CONNECT_TIMEOUT_MIN_MS', `must not exceed SCAN_CONNECT_TIMEOUT_MS (${minMs} > ${maxMs}).`);
  }
  return Object.freeze({ initialMs: Math.min(maxMs, Math.max(minMs, DEFAULT_CONNECT_TIMEOUT.initialMs)), minMs, maxMs });
}

function oneOf(env: Env, name: string, allowed: string[], fallback: string): string {
  const raw = text(env, name);
  if (raw === null) return fallback;
  if (!allowed.includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}.`);
  return raw;
}

function secret(env: Env): Buffer | null {
  const raw = env.JWT_SECRET;
  if (raw === undefined || raw === '') return null;
  const bytes = Buffer.from(raw, 'utf8');
  // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
  if (bytes.length < 32) throw new ConfigError('JWT_SECRET', `must be at least 32 bytes (it has ${bytes.length}).`);
  return bytes;
}

function httpUrl(env: Env, name: string): string | null {
  const raw = text(env, name);
  if (raw === null) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(name, 'must be an https:// (or http://) URL.');
  return raw;
}

function roleMap(env: Env): ReadonlyMap<string, 'Admin' | 'App'> | null {
  const raw = text(env, 'JWT_ROLE_MAP');
  if (raw === null) return null;
  const map = new Map<string, 'Admin' | 'App'>();
  for (const pair of raw.split(',')) {
    const eq = pair.lastIndexOf('=');
    const [name, role] = [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
    if (eq <= 0 || !name || (role !== 'Admin' && role !== 'App')) {
      throw new ConfigError('JWT_ROLE_MAP', 'must be pairs like "scan-admins=Admin,scanners=App", each mapped onto Admin or App.');
    }
    map.set(name, role);
  }
  return map;
}

function credentialsKey(env: Env): Buffer | null {
  const raw = text(env, 'CREDENTIALS_KEY');
  if (raw === null) return null;
  const bytes = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (bytes.length !== 32) throw new ConfigError('CREDENTIALS_KEY', 'must be 32 bytes, as 64 hex digits or base64.');
  return bytes;
}

function publicKey(env: Env): string | null {
  const raw = text(env, 'JWT_PUBLIC_KEY');
  if (raw === null) return null;
  if (raw.includes('-----BEGIN')) return raw.replace(/\\n/g, '\n');
  try {
    return readFileSync(raw, 'utf8');
  } catch {
    throw new ConfigError('JWT_PUBLIC_KEY', 'is neither a PEM key nor a readable file holding one.');
  }
}

function databaseUrl(env: Env): string | null {
  const raw = text(env, 'DATABASE_URL');
  if (raw === null) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a URL (expected postgres://user@host:5432/database).');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `must use postgres:// or postgresql:// (got ${url.protocol}//).`);
  }
  return raw;
}

function tls(env: Env): { cert: string; key: string } | null {
  const certFile = text(env, 'TLS_CERT_FILE');
  const keyFile = text(env, 'TLS_KEY_FILE');
  if (!certFile && !keyFile) return null;
  if (!certFile) throw new ConfigError('TLS_CERT_FILE', 'is required when TLS_KEY_FILE is set.');
  if (!keyFile) throw new ConfigError('TLS_KEY_FILE', 'is required when TLS_CERT_FILE is set.');
  const read = (name: string, file: string, marker: RegExp) => {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(name, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${file}).`);
    }
    if (!marker.test(pem)) throw new ConfigError(name, `does not hold a PEM ${name === 'TLS_KEY_FILE' ? 'private key' : 'certificate'} (${file}).`);
    return pem;
  };
  return { cert: read('TLS_CERT_FILE', certFile, /-----BEGIN CERTIFICATE-----/), key: read('TLS_KEY_FILE', keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/) };
}
