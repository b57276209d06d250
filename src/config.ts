import { readFileSync } from 'node:fs';
import { parseKeySetting } from './secrets';
import { DEFAULT_CONNECT_TIMEOUT, type ConnectTimeoutBounds } from './scanner/rtt';

/** Everything the gateway reads from its environment, parsed and checked once at start. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  /** Connections each instance keeps to PostgreSQL (server store only). */
  readonly databasePoolSize: number;
  /**
   * Prepare each statement once per connection (server store only). Off behind a transaction pooler that
   * does not keep prepared statements (PgBouncer before 1.21, or without max_prepared_statements).
   */
  readonly databasePreparedStatements: boolean;
  /** A direct (session) connection for LISTEN only, beside a transaction pooler in `databaseUrl`. */
  readonly databaseListenUrl: string | null;
  /** How job changes reach other instances, and how the path is checked and stood in for. */
  readonly events: {
    /** nats:// or redis:// (rediss://): an event transport instead of PostgreSQL NOTIFY. */
    readonly url: string | null;
    /** How often a probe proves the path delivers. */
    readonly checkMs: number;
    /** How often changes are read from the store while it does not. */
    readonly pollMs: number;
  };
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
    readonly maxIntrospectionDepth: number;
  };
  /** Subscriptions one WebSocket may hold at once. */
  readonly wsMaxSubscriptions: number;
  /** Largest WebSocket message accepted (close 1009 beyond). */
  readonly wsMaxPayloadBytes: number;
  /** WebSockets one token subject may hold open at once (close 1013 beyond). */
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
  /** Requests per client address and per token subject per RATE_LIMIT_WINDOW_MS (0: no limit). */
  readonly rateLimits: { readonly perAddress: number; readonly perSubject: number; readonly windowMs: number };
  /** Messages one WebSocket may send per second (close 1013 beyond). */
  readonly wsMaxMessagesPerSecond: number;
  /** Audit records older than this many days are removed. */
  readonly auditRetentionDays: number;
  /** Inventory snapshots kept per host (older ones go as a scan records a new one). */
  readonly inventorySnapshotsKept: number;
  /** OpenTelemetry traces over OTLP/HTTP, when the standard endpoint variables are set. */
  readonly tracing: { readonly url: string; readonly exportDelayMs: number } | null;
  /** The 32-byte key credentials are sealed with (CREDENTIALS_KEY: base64, or a file holding it); never logged. */
  readonly credentialsKey: Buffer | null;
  /** Shortest gap between two progress messages of one batch subscription. */
  readonly batchProgressIntervalMs: number;
  /** How often each instance looks for due schedule slots. */
  readonly scheduleTickMs: number;
  /** Whether the newest slot a schedule missed while no gateway ran fires once at start. */
  readonly scheduleCatchUp: boolean;
  /** Finished jobs that last changed longer ago than this many days are removed; 0 keeps them all. */
  readonly jobRetentionDays: number;
  /** Lifetime of the tokens the gateway issues at sign-in, in seconds. */
  readonly tokenTtlS: number;
  /** Between one token signing key starting to sign and the next, in ms; 0: only on request (TOKEN_KEY_ROTATE_DAYS). */
  readonly tokenKeyRotateMs: number;
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
    databasePreparedStatements: flag(env, 'DATABASE_PREPARED_STATEMENTS', true),
    ...events(env),
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
      // graphql-js's getIntrospectionQuery nests ofType 9 deep (its typeDepth); codegen tools use it.
      maxIntrospectionDepth: int(env, 'GRAPHQL_MAX_INTROSPECTION_DEPTH', 12, 1, 100),
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
    inventorySnapshotsKept: int(env, 'INVENTORY_SNAPSHOTS_KEPT', 10, 1, 1000),
    tracing: tracing(env),
    rateLimits: Object.freeze({
      perAddress: int(env, 'RATE_LIMIT_PER_ADDRESS', 1200, 0, 10_000_000),
      perSubject: int(env, 'RATE_LIMIT_PER_SUBJECT', 1200, 0, 10_000_000),
      windowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 60_000, 1000, 3_600_000),
    }),
    wsMaxMessagesPerSecond: int(env, 'WS_MAX_MESSAGES_PER_SECOND', 50, 1, 100_000),
    credentialsKey: credentialsKey(env),
    batchProgressIntervalMs: int(env, 'BATCH_PROGRESS_INTERVAL_MS', 250, 50, 60_000),
    scheduleTickMs: int(env, 'SCHEDULE_TICK_MS', 5_000, 100, 600_000),
    scheduleCatchUp: flag(env, 'SCHEDULE_CATCH_UP', true),
    jobRetentionDays: int(env, 'JOB_RETENTION_DAYS', 0, 0, 36_500),
    tokenTtlS: int(env, 'TOKEN_TTL_S', 900, 60, 86_400),
    tokenKeyRotateMs: days(env, 'TOKEN_KEY_ROTATE_DAYS', 30, 0.0002, 3650),
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

/**
 * A number of days as ms: 0 (off) or from `min` to `max`. Fractions are allowed so that tests can run a
 * period in seconds (0.0005 is 43.2 s).
 */
function days(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === null) return fallback * 86_400_000;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || (value !== 0 && (value < min || value > max))) {
    throw new ConfigError(name, `must be 0 (off) or a number of days from ${min} to ${max} (got "${raw.slice(0, 40)}").`);
  }
  return Math.round(value * 86_400_000);
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

function credentialsKey(env: Env): Buffer | null {
  const raw = text(env, 'CREDENTIALS_KEY');
  if (raw === null) return null;
  const key = parseKeySetting(raw);
  // Never quote the value: it may be the key itself, one character off.
  if (!key) throw new ConfigError('CREDENTIALS_KEY', 'must be the base64 of 32 bytes (openssl rand -base64 32), or the path of a readable file holding it.');
  return key;
}

function databaseUrl(env: Env, name = 'DATABASE_URL'): string | null {
  const raw = text(env, name);
  if (raw === null) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a URL (expected postgres://user@host:5432/database).');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(name, `must use postgres:// or postgresql:// (got ${url.protocol}//).`);
  }
  return raw;
}

/** DATABASE_LISTEN_URL and EVENTS_*: both need the server store, and exclude each other. */
function events(env: Env): Pick<Config, 'databaseListenUrl' | 'events'> {
  const server = text(env, 'DATABASE_URL') !== null;
  const listenUrl = databaseUrl(env, 'DATABASE_LISTEN_URL');
  const url = text(env, 'EVENTS_URL');
  if (listenUrl && !server) throw new ConfigError('DATABASE_LISTEN_URL', 'needs DATABASE_URL (the embedded store serves one gateway).');
  if (url) {
    if (!server) throw new ConfigError('EVENTS_URL', 'needs DATABASE_URL (the embedded store serves one gateway).');
    if (listenUrl) throw new ConfigError('DATABASE_LISTEN_URL', 'is not used when EVENTS_URL is set; unset one of them.');
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new ConfigError('EVENTS_URL', 'is not a URL (expected nats://host:4222 or redis://host:6379).');
    }
    if (!['nats:', 'redis:', 'rediss:'].includes(protocol)) {
      throw new ConfigError('EVENTS_URL', `must use nats://, redis:// or rediss:// (got ${protocol}//).`);
    }
  }
  return {
    databaseListenUrl: listenUrl,
    events: Object.freeze({
      url,
      checkMs: int(env, 'EVENTS_CHECK_MS', 10_000, 100, 3_600_000),
      pollMs: int(env, 'EVENTS_POLL_MS', 1_000, 50, 60_000),
    }),
  };
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

function tracing(env: Env): Config['tracing'] {
  const url = otlpTracesUrl(env);
  if (!url) return null;
  if (!/^https?:\/\/[^/]/.test(url)) throw new ConfigError('OTEL_EXPORTER_OTLP_ENDPOINT', 'must be an http:// or https:// URL.');
  return Object.freeze({ url, exportDelayMs: int(env, 'OTEL_BSP_SCHEDULE_DELAY', 5_000, 10, 600_000) });
}

/** The OTLP traces URL from the standard variables, or null when neither is set. */
function otlpTracesUrl(env: Env): string | null {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : null;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ConfigError(name, `must be true or false (got '${value}').`);
}
