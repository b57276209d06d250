import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { followAccountVersions } from './account-versions';
import { CLOCK_TOLERANCE_S, createVerifier, ephemeralSecret, mintToken, type TokenVerifier } from './auth';
import { ConfigError, type Config } from './config';
import { CredentialService, credentialVault, resolveCredentialRefs } from './credential-service';
import { isAppError } from './errors';
import type { HostInput } from './model';
import { credentialKeyFor, type SecretKey } from './secrets';
import { JobEventBus } from './events';
import { mountGraphQL } from './graphql/http';
import type { GraphQLLimits } from './graphql/limits';
import { buildGatewaySchema } from './graphql/schema';
import { attachGraphQLSockets, type GraphQLSockets } from './graphql/ws';
import { startDemoTarget } from './demo-target';
import { demoHost, readHostsFile } from './hosts-file';
import { createHttpServer } from './http';
import { HostImportService } from './host-import-service';
import { JobCache } from './job-cache';
import { createLogger } from './logger';
import { createLifecycle, type Lifecycle } from './lifecycle';
import { createMetrics, type Metrics } from './metrics';
import { connectInstances } from './instances';
import { createRunner, type Runner } from './runner';
import type { Scanner } from './scanner';
import { tracedScanner } from './scanner/traced';
import { createPacer } from './pacer';
import { AuditService } from './audit-service';
import { systemAuditEntry } from './audit';
import { BackupService } from './backup-service';
import { JOB_PRUNE_BATCH, keepFor } from './retention';
import { InventoryEvents } from './inventory-events';
import { followRemoteInventory } from './remote-inventory';
import { InventoryService } from './inventory-service';
import { fitConcurrency } from './scanner/fd-budget';
import { createThreadedScanner } from './scanner/thread';
import { HostScanService } from './service';
import { ScheduleService } from './schedule-service';
import { createTicker, type Ticker } from './schedules/ticker';
import { openStore, type Store } from './store';
import { tracedStore } from './store/traced';
import { createTracing, type Tracing } from './tracing';
import { AccountService } from './accounts';
import { createSealer, type Sealer } from './auth-secrets';
import { SignInService } from './sign-in';
import { Lockout } from './lockout';
import { TokenIssuer } from './token-issuer';
import { createRemoteVerifier } from './remote-keys';
import { KeyRing } from './token-keys';
import { KeyRotation, rotationTimes } from './key-rotation';

/** `iss` and `aud` of the gateway's own tokens when JWT_ISSUER / JWT_AUDIENCE are not set. */
const GATEWAY_TOKEN_ISSUER = 'scan-gateway';

export interface Gateway {
  /** Base URL for loopback clients, e.g. `http://127.0.0.1:6500`. */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly service: HostScanService;
  readonly inventory: InventoryService;
  readonly events: JobEventBus;
  readonly runner: Runner;
  readonly sockets: GraphQLSockets;
  /** Fires due schedule slots; tests call `tick(now)` with their own clock. */
  readonly schedules: Ticker;
  /** Signs the gateway's own tokens (sign-in) and knows which are revoked. */
  readonly tokens: TokenIssuer;
  readonly accounts: AccountService;
  /** Ready-to-use tokens when the gateway made an ephemeral key (development without a configured key). */
  readonly devTokens: { admin: string; app: string } | null;
  /** Development without HOSTS_FILE: the demo host and where its demo target listens (loopback). */
  readonly demo: DemoInfo | null;
  /**
   * Graceful stop: readiness 503 and new schedules refused at once, WebSockets closed with 1001, scans in
   * flight given SHUTDOWN_DRAIN_MS to finish (the rest handed back), then HTTP, then the store. Idempotent.
   */
  stop(): Promise<void>;
}

export interface DemoInfo {
  /** The demo host's name. */
  host: string;
  /** The demo target's SSH server, `127.0.0.1:port`. */
  sshTarget: string;
  /** The loopback port the demo target holds closed, the demo host's WinRM port. */
  winRmPort: number;
}

export interface GatewayDeps {
  logger?: Logger;
  /** Whether to run scans; tests turn it off to observe jobs while they are queued. @default true */
  runner?: boolean;
  /** The network scanner, on a thread of its own (scanner/thread.ts), by default. */
  scanner?: Scanner;
  /** The clock schedules read; the system's by default. */
  now?: () => Date;
  /** Whether schedules fire on their own; tests turn it off and call `schedules.tick(now)`. @default true */
  scheduleTicker?: boolean;
}

const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** The composition root: builds every part from `config`, wires them explicitly and starts listening. */
export async function startGateway(config: Config, deps: GatewayDeps = {}): Promise<Gateway> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const ephemeral = !config.jwtSecret && !config.jwtPublicKey ? ephemeralSecret() : null;
  const devTokens = ephemeral ? mintDevTokens(ephemeral, config) : null;
  const metrics = createMetrics();
  const lifecycle = createLifecycle(logger);
  // Without an endpoint there is no tracer at all: no span, no wrapper, no hook.
  const tracing = config.tracing ? createTracing({ ...config.tracing, serviceName: 'scan-gateway', version: VERSION }) : null;
  if (tracing) lifecycle.add('traces sent', () => tracing.stop());
  // Set when stopping: readiness turns 503 and new schedules are refused with this reason.
  const shutdown = { reason: null as string | null };
  try {
    const core = await openCore(config, deps, { logger, metrics, lifecycle, shutdown, tracing });
    const verifier = createVerifier({
      secret: config.jwtSecret ?? ephemeral,
      publicKeyPem: config.jwtPublicKey,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      maxAgeS: config.jwtMaxAgeS,
      maxLifetimeS: config.jwtMaxLifetimeS,
      issued: core.tokens,
      remote: config.jwtJwksUrl || config.jwtOidcIssuer
        ? await createRemoteVerifier({ jwksUrl: config.jwtJwksUrl, oidcIssuer: config.jwtOidcIssuer, issuer: config.jwtIssuer, audience: config.jwtAudience, cooldownMs: config.jwtJwksCooldownMs })
        : null,
      rolesClaim: config.jwtRolesClaim,
      roleMap: config.jwtRoleMap,
    });
    const edges = await mountEdges(config, core, { logger, metrics, lifecycle, verifier, devToken: devTokens?.admin ?? null, shutdown, tracing });
    const { store, service, inventory, events, runner, ticker } = core;
    const { url, port, sockets } = edges;
    logger.info({ port, url, store: store.kind, tls: !!config.tls, algorithms: verifier.algorithms, version: VERSION }, 'gateway listening');

    let stopping: Promise<void> | null = null;
    const stop = async () => {
      shutdown.reason = 'The gateway is shutting down.';
      const begun = Date.now();
      logger.info({ inFlight: runner.inFlight }, 'stopping: readiness 503, new schedules refused');
      await lifecycle.stopAll((name) => logger.info({ ms: Date.now() - begun }, `stopping: ${name} done`));
    };
    return { url, port, store, service, inventory, events, runner, sockets, schedules: ticker, devTokens, demo: core.demo, tokens: core.tokens, accounts: core.accounts, stop: () => (stopping ??= stop()) };
  } catch (err) {
    await lifecycle.stopAll();
    throw err;
  }
}

interface Wiring {
  logger: Logger;
  tracing: Tracing | null;
  metrics: Metrics;
  lifecycle: Lifecycle;
  shutdown: { reason: string | null };
}

/** The store, the event bus and its cache, the bridge to other instances, the runner and the service. */
async function openCore(config: Config, deps: GatewayDeps, { logger, metrics, lifecycle, shutdown, tracing }: Wiring) {
  const opened = await openStore({
    databaseUrl: config.databaseUrl, databasePoolSize: config.databasePoolSize, databasePreparedStatements: config.databasePreparedStatements, databaseListenUrl: config.databaseListenUrl,
    notify: !config.events.url, dataDir: config.dataDir, snapshotsKept: config.inventorySnapshotsKept, logger,
  });
  lifecycle.add('store closed', () => opened.stop());
  const demo = await seedHosts(config, opened, lifecycle, logger);
  // What the service and the runner call; `opened` stays the gateway's handle (and raw SQL's key in tests).
  const store = tracing ? tracedStore(opened, tracing) : opened;

  // One time budget for all fan-out work (the bus's deliveries and the sockets' writes).
  const pacer = createPacer();
  const events = new JobEventBus((err) => logger.error({ err }, 'job event listener failed'), pacer);
  const cache = new JobCache(events);
  lifecycle.add('job cache cleared', () => cache.stop());
  const inventoryEvents = new InventoryEvents();
  const { remote, publish } = await connectInstances({
    settings: config.events, store, events, cache, logger, lifecycle,
    onRemoteJobs: followRemoteInventory({ inventory: store.inventory, events: inventoryEvents, logger }),
  });
  const traced = (scanner: Scanner) => (tracing ? tracedScanner(scanner, tracing) : scanner);
  const credentialKey = credentialKeyFor({ configured: config.credentialsKey, production: config.production, dataDir: config.dataDir, logger });
  const credentials = new CredentialService({ store, key: credentialKey });
  const concurrency = fitConcurrency(config.scanConcurrency);
  if (concurrency < config.scanConcurrency) {
    logger.warn({ wanted: config.scanConcurrency, concurrency }, 'SCAN_CONCURRENCY lowered to what the open-file limit allows (raise it with ulimit -n)');
  }
  let scanner = deps.scanner;
  if (!scanner) {
    const threaded = createThreadedScanner({ options: { connectTimeout: config.scanConnectTimeout }, credentials: credentialVault(store, credentialKey), logger });
    lifecycle.add('scanner thread stopped', () => threaded.stop());
    // Started now, so the first scans do not wait for it, and a thread that cannot start stops the gateway here.
    if (deps.runner ?? true) await threaded.start();
    scanner = threaded;
  }
  const runner = createRunner({
    queue: store.queue,
    scanner: traced(scanner),
    logger,
    publish,
    publishInventory: (updates) => inventoryEvents.publish(updates),
    concurrency,
    timeoutMs: config.scanTimeoutMs,
    leaseMs: config.scanLeaseMs,
    retryLimit: config.scanRetryLimit,
    retryBackoffMs: config.scanRetryBackoffMs,
    onScanFinished: (status, seconds) => metrics.scanFinished(status, seconds),
  });
  const service = new HostScanService({
    store,
    events,
    cache,
    maxHostIds: config.maxHostIds,
    batchProgressIntervalMs: config.batchProgressIntervalMs,
    refusal: () => shutdown.reason,
    onJobsChanged: (jobs) => {
      publish(jobs);
      runner.wake();
    },
    onCancelRunning: (scanIds) => runner.cancel(scanIds),
  });
  const imports = new HostImportService({ scans: service, chunk: config.maxHostIds });
  const inventory = new InventoryService({ store, events: inventoryEvents, maxHostIds: config.maxHostIds });
  const audit = new AuditService({ store });
  const backups = new BackupService({ store });
  const now = deps.now ?? (() => new Date());
  const schedules = new ScheduleService({ store, maxHostIds: config.maxHostIds, now });
  const ticker = createTicker({
    store,
    logger,
    now,
    tickMs: config.scheduleTickMs,
    catchUp: config.scheduleCatchUp,
    // Through `publish`, so other instances hear of a firing's jobs over EVENTS_URL too.
    onJobs: (jobs) => {
      publish(jobs);
      runner.wake();
    },
  });
  lifecycle.add('audit retention stopped', keepFor({ what: 'audit records', days: config.auditRetentionDays, batch: 1000, prune: (before, n) => store.audit.prune(before, n), logger }));
  if (config.jobRetentionDays > 0) {
    // Removed jobs may still be in the cache, which would answer for them until evicted.
    const prune = (before: Date, n: number) => store.retention.pruneJobs(before, n);
    lifecycle.add('job retention stopped', keepFor({ what: 'finished jobs', days: config.jobRetentionDays, batch: JOB_PRUNE_BATCH, prune, logger, onRemoved: () => cache.clear() }));
  }
  const tokens = await openTokens(config, store, credentialKey, logger);
  if (tokens.rotation) {
    tokens.rotation.start();
    lifecycle.add('signing key rotation stopped', () => tokens.rotation?.stop());
  }
  if (!tokens.issuer.canSign && credentialKey) {
    logger.warn('this instance cannot open the token signing key: its CREDENTIALS_KEY is not the one another instance sealed it with; it verifies tokens but issues none');
  }
  // Told of revocations; the WebSockets add theirs once they are up (see mountEdges).
  const revoked: ((subject: string) => void)[] = [];
  const setVersion = (subject: string, version: number) => {
    if (tokens.issuer.version(subject) === version) return; // our own change, heard back from PostgreSQL
    tokens.issuer.setVersion(subject, version);
    for (const listener of revoked) listener(subject);
  };
  const accounts = new AccountService({ store, sealer: tokens.sealer, onRevoked: setVersion });
  // Another instance's revocation takes effect here as soon as it commits (LISTEN), and within
  // EVENTS_CHECK_MS where LISTEN hears nothing (a pooler in transaction mode).
  const versions = await followAccountVersions({
    store, current: (subject) => tokens.issuer.version(subject), subjects: () => tokens.issuer.subjects(), onChange: setVersion, recheckMs: config.events.checkMs, logger,
  });
  lifecycle.add('account token versions', () => versions.stop());
  const signIn = new SignInService({ store, tokens: tokens.issuer, sealer: tokens.sealer, mfa: config.signinMfa, lockout: new Lockout(config.signinLockout) });
  return {
    store: opened, demo, events, remote, runner, service, imports, inventory, audit, credentials, backups, schedules, ticker, tokens: tokens.issuer, keyRotation: tokens.rotation, accounts, revoked, signIn,
    pacer, runScans: deps.runner ?? true, tickSchedules: deps.scheduleTicker ?? true,
  };
}

type Core = Awaited<ReturnType<typeof openCore>>;

/** HTTP (REST, GraphQL, health, metrics, dashboard), then the runner, then the WebSockets. */
async function mountEdges(
  config: Config,
  core: Core,
  { logger, metrics, lifecycle, verifier, devToken, shutdown, tracing }: Wiring & { verifier: TokenVerifier; devToken: string | null },
) {
  const { store, runner, service, inventory, audit, credentials, backups, schedules, ticker, runScans } = core;
  const http = await createHttpServer({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    verifier,
    service,
    imports: core.imports,
    inventory,
    audit,
    backups,
    signIn: core.signIn,
    jwks: () => core.tokens.jwks(),
    jwksMaxAgeS: core.keyRotation?.times.jwksMaxAgeS ?? 300,
    metrics,
    rateLimits: config.rateLimits,
    tracing,
    tls: config.tls,
    devToken,
    explorer: !config.production,
    version: VERSION,
    notReady: async () =>
      shutdown.reason ??
      (runScans && !runner.running ? 'The scan runner is not running.' : null) ??
      verifier.problem() ??
      ((await store.healthy()) ? null : 'The database is unreachable.'),
    // Ready, not drained: the fallback poll keeps it correct, and every instance behind the same pooler
    // would be drained at once.
    degraded: () => core.remote?.deafness() ?? null,
  });
  const schema = await buildGatewaySchema({ scans: service, audit, credentials, schedules, accounts: core.accounts, signingKeys: core.keyRotation });
  const limits: GraphQLLimits = { ...config.graphql, introspection: !config.production, exposeLimits: !config.production };
  const onOperation = (transport: 'http' | 'ws') => (type: string, ok: boolean) => metrics.graphqlOperation(transport, type, ok);
  const apollo = await mountGraphQL(http, { schema, service, inventory, verifier, limits, logger, production: config.production, onOperation: onOperation('http'), tracing });
  lifecycle.add('graphql stopped', () => apollo.stop());
  await http.listen({ port: config.port, host: config.host });
  lifecycle.add('http closed', () => closeHttp(http));
  if (runScans) runner.start();
  if (core.tickSchedules) ticker.start();
  lifecycle.add('schedules stopped', () => ticker.stop());
  // Scans in flight may finish within SHUTDOWN_DRAIN_MS on a graceful stop; a failed start drains nothing.
  lifecycle.add('scans drained or handed back', () => runner.stop(shutdown.reason ? config.shutdownDrainMs : 0));
  const sockets = attachGraphQLSockets({
    server: http.server,
    path: '/graphql',
    schema,
    service,
    inventory,
    verifier,
    limits,
    maxSubscriptions: config.wsMaxSubscriptions,
    maxPayloadBytes: config.wsMaxPayloadBytes,
    maxSocketsPerSubject: config.wsMaxSocketsPerSubject,
    maxDocumentsPerSubject: config.wsMaxDocumentsPerSubject,
    maxDocuments: config.wsMaxDocuments,
    maxPendingPerAddress: config.wsMaxPendingPerAddress,
    maxMessagesPerSecond: config.wsMaxMessagesPerSecond,
    onRateLimited: () => metrics.rateLimited('socket'),
    initTimeoutMs: config.wsInitTimeoutMs,
    logger,
    onOperation: onOperation('ws'),
    pacer: core.pacer,
  });
  lifecycle.add('websockets closed (1001)', () => sockets.stop());
  core.revoked.push((subject) => sockets.closeSubject(subject));
  metrics.attach({ store, openSockets: () => sockets.openSockets, activeSubscriptions: () => sockets.activeSubscriptions, longestRenewalGapMs: () => runner.longestRenewalGapMs, deafness: () => core.remote?.deafness() ?? null });

  const { port } = http.server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { url, port, sockets };
}

/**
 * Stop listening and let requests in flight finish; after a short grace, drop whatever connections are
 * left (keep-alive sockets a client holds open would otherwise keep the server up for its idle timeout).
 */
async function closeHttp(http: FastifyInstance, graceMs = 3_000): Promise<void> {
  const timer = setTimeout(() => http.server.closeAllConnections(), graceMs);
  try {
    await http.close();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The issuer of the gateway's own tokens: its keys from the store (kept and rotated by `rotation`, not yet
 * started), and every account's token version.
 */
async function openTokens(config: Config, store: Store, key: SecretKey | null, logger: Logger): Promise<{ issuer: TokenIssuer; sealer: Sealer; rotation: KeyRotation | null }> {
  const sealer = createSealer(key);
  // Without a key (production without CREDENTIALS_KEY) no signing key can be kept: no tokens are issued.
  const ring = key ? new KeyRing() : null;
  const rotation = ring ? new KeyRotation({ store, sealer, ring, logger, times: rotationTimes(config.tokenKeyRotateMs, config.tokenTtlS, CLOCK_TOLERANCE_S) }) : null;
  await rotation?.open();
  const tokens = new TokenIssuer(ring, {
    ttlS: config.tokenTtlS,
    issuer: config.jwtIssuer ?? GATEWAY_TOKEN_ISSUER,
    audience: config.jwtAudience ?? GATEWAY_TOKEN_ISSUER,
  });
  for (const [subject, version] of await store.accounts.tokenVersions()) tokens.setVersion(subject, version);
  return { issuer: tokens, sealer, rotation };
}

/** HOSTS_FILE's hosts; without one, in development, the demo host and the demo target it points at. */
async function seedHosts(config: Config, store: Store, lifecycle: Lifecycle, logger: Logger): Promise<DemoInfo | null> {
  let hosts: HostInput[] = [];
  let demo: DemoInfo | null = null;
  if (config.hostsFile) hosts = await readHostsFile(config.hostsFile, 100_000);
  else if (!config.production) {
    const target = await startDemoTarget();
    lifecycle.add('demo target stopped', () => target.stop());
    const host = demoHost(target.sshPort, target.winRmPort);
    hosts = [host];
    demo = { host: host.name, sshTarget: `${target.host}:${target.sshPort}`, winRmPort: target.winRmPort };
    // So nobody mistakes the demo for a real host: its name and where the scan really goes.
    logger.info(
      { demoHost: demo.host, sshTarget: demo.sshTarget, winRmPort: demo.winRmPort },
      `demo host '${demo.host}' scans the demo SSH target at ${demo.sshTarget} (development only; WinRM port ${demo.winRmPort} held closed)`,
    );
  }
  if (hosts.length === 0) return demo;
  let resolved: HostInput[];
  try {
    resolved = await resolveCredentialRefs(store, hosts);
  } catch (err) {
    if (!isAppError(err)) throw err;
    const problems = Object.entries(err.fieldErrors ?? {}).map(([key, messages]) => `${key}: ${messages.join(' ')}`);
    throw new ConfigError('HOSTS_FILE', `names credentials that do not exist (add them first: npm run credentials -- add): ${problems.slice(0, 10).join('; ')}`);
  }
  // Recorded like an Admin's host writes, and only when the file (or the demo target's port) changed something:
  // a restart that finds the same hosts adds nothing to the trail.
  const audit = config.hostsFile ? systemAuditEntry('system:hosts-file', 'hosts.upsert', { source: 'HOSTS_FILE' }) : systemAuditEntry('system:demo-target', 'hosts.upsert');
  const result = await store.hosts.upsert(resolved, audit, { auditOnlyChanges: true });
  if (result.conflicts) {
    const [index, message] = [...result.conflicts][0]!;
    throw new Error(`HOSTS_FILE entry $[${index}]: ${message}`);
  }
  return demo;
}

function mintDevTokens(key: KeyObject, config: Config) {
  const mint = (role: string) =>
    mintToken({ key, subject: `dev-${role.toLowerCase()}`, roles: [role], name: `dev ${role}`, ttl: '12h', issuer: config.jwtIssuer, audience: config.jwtAudience });
  return { admin: mint('Admin'), app: mint('App') };
}
