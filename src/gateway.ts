import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createVerifier, ephemeralSecret, mintToken, type TokenVerifier } from './auth';
import type { Config } from './config';
import { JobEventBus } from './events';
import { mountGraphQL } from './graphql/http';
import type { GraphQLLimits } from './graphql/limits';
import { buildGatewaySchema } from './graphql/schema';
import { attachGraphQLSockets, type GraphQLSockets } from './graphql/ws';
import { DEMO_HOST, readHostsFile } from './hosts-file';
import { createHttpServer } from './http';
import { JobCache } from './job-cache';
import { createLogger } from './logger';
import { createLifecycle, type Lifecycle } from './lifecycle';
import { createMetrics, type Metrics } from './metrics';
import { bridgeRemoteEvents } from './remote-events';
import { createRunner, type Runner } from './runner';
import type { Scanner } from './scanner';
import { createPacer } from './pacer';
import { AuditService } from './audit-service';
import { InventoryEvents } from './inventory-events';
import { InventoryService } from './inventory-service';
import { createCredentialedScanner } from './scanner/credentialed';
import { createProbeScanner } from './scanner/probe';
import { HostScanService } from './service';
import { openStore, type Store } from './store';

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
  /** Ready-to-use tokens when the gateway made an ephemeral key (development without a configured key). */
  readonly devTokens: { admin: string; app: string } | null;
  /**
   * Graceful stop: readiness 503 and new schedules refused at once, WebSockets closed with 1001, scans in
   * flight given SHUTDOWN_DRAIN_MS to finish (the rest handed back), then HTTP, then the store. Idempotent.
   */
  stop(): Promise<void>;
}

export interface GatewayDeps {
  logger?: Logger;
  /** Whether to run scans; tests turn it off to observe jobs while they are queued. @default true */
  runner?: boolean;
  /** The network scanner by default. */
  scanner?: Scanner;
}

const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** The composition root: builds every part from `config`, wires them explicitly and starts listening. */
export async function startGateway(config: Config, deps: GatewayDeps = {}): Promise<Gateway> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const ephemeral = !config.jwtSecret && !config.jwtPublicKey ? ephemeralSecret() : null;
  const verifier = createVerifier({
    secret: config.jwtSecret ?? ephemeral,
    publicKeyPem: config.jwtPublicKey,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    maxAgeS: config.jwtMaxAgeS,
    maxLifetimeS: config.jwtMaxLifetimeS,
  });
  const devTokens = ephemeral ? mintDevTokens(ephemeral, config) : null;
  const metrics = createMetrics();
  const lifecycle = createLifecycle(logger);
  // Set when stopping: readiness turns 503 and new schedules are refused with this reason.
  const shutdown = { reason: null as string | null };
  try {
    const core = await openCore(config, deps, { logger, metrics, lifecycle, shutdown });
    const edges = await mountEdges(config, core, { logger, metrics, lifecycle, verifier, devToken: devTokens?.admin ?? null, shutdown });
    const { store, service, inventory, events, runner } = core;
    const { url, port, sockets } = edges;
    logger.info({ port, url, store: store.kind, tls: !!config.tls, algorithms: verifier.algorithms, version: VERSION }, 'gateway listening');

    let stopping: Promise<void> | null = null;
    const stop = async () => {
      shutdown.reason = 'The gateway is shutting down.';
      const begun = Date.now();
      logger.info({ inFlight: runner.inFlight }, 'stopping: readiness 503, new schedules refused');
      await lifecycle.stopAll((name) => logger.info({ ms: Date.now() - begun }, `stopping: ${name} done`));
    };
    return { url, port, store, service, inventory, events, runner, sockets, devTokens, stop: () => (stopping ??= stop()) };
  } catch (err) {
    await lifecycle.stopAll();
    throw err;
  }
}

interface Wiring {
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  shutdown: { reason: string | null };
}

/** The store, the event bus and its cache, the bridge to other instances, the runner and the service. */
async function openCore(config: Config, deps: GatewayDeps, { logger, metrics, lifecycle, shutdown }: Wiring) {
  const store = await openStore({ databaseUrl: config.databaseUrl, databasePoolSize: config.databasePoolSize, dataDir: config.dataDir, logger });
  lifecycle.add('store closed', () => store.stop());
  await seedHosts(config, store);

  // One time budget for all fan-out work (the bus's deliveries and the sockets' writes).
  const pacer = createPacer();
  const events = new JobEventBus((err) => logger.error({ err }, 'job event listener failed'), pacer);
  const cache = new JobCache(events);
  lifecycle.add('job cache cleared', () => cache.stop());
  if (store.changes) {
    const bridge = await bridgeRemoteEvents({ changes: store.changes, jobs: store.jobs, events, logger, onDeaf: (deaf) => cache.setTrusted(!deaf) });
    lifecycle.add('listen stopped', () => bridge.stop());
  }
  const inventoryEvents = new InventoryEvents();
  const runner = createRunner({
    queue: store.queue,
    scanner: deps.scanner ?? createCredentialedScanner({ probe: createProbeScanner({ connectTimeout: config.scanConnectTimeout }), credentials: null }),
    logger,
    publish: (jobs) => events.publish(jobs),
    publishInventory: (updates) => inventoryEvents.publish(updates),
    concurrency: config.scanConcurrency,
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
    refusal: () => shutdown.reason,
    onJobsChanged: (jobs) => {
      events.publish(jobs);
      runner.wake();
    },
    onCancelRunning: (scanIds) => runner.cancel(scanIds),
  });
  const inventory = new InventoryService({ store, events: inventoryEvents, maxHostIds: config.maxHostIds });
  const audit = new AuditService({ store });
  lifecycle.add('audit retention stopped', keepAuditFor(store, config.auditRetentionDays, logger));
  return { store, events, runner, service, inventory, audit, pacer, runScans: deps.runner ?? true };
}

type Core = Awaited<ReturnType<typeof openCore>>;

/** HTTP (REST, GraphQL, health, metrics, dashboard), then the runner, then the WebSockets. */
async function mountEdges(
  config: Config,
  core: Core,
  { logger, metrics, lifecycle, verifier, devToken, shutdown }: Wiring & { verifier: TokenVerifier; devToken: string | null },
) {
  const { store, runner, service, inventory, audit, runScans } = core;
  const http = await createHttpServer({
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    verifier,
    service,
    inventory,
    audit,
    metrics,
    tls: config.tls,
    devToken,
    explorer: !config.production,
    version: VERSION,
    notReady: async () =>
      shutdown.reason ??
      (runScans && !runner.running ? 'The scan runner is not running.' : null) ??
      ((await store.healthy()) ? null : 'The database is unreachable.'),
  });
  const schema = await buildGatewaySchema({ scans: service, audit });
  const limits: GraphQLLimits = { ...config.graphql, introspection: !config.production, exposeLimits: !config.production };
  const onOperation = (transport: 'http' | 'ws') => (type: string, ok: boolean) => metrics.graphqlOperation(transport, type, ok);
  const apollo = await mountGraphQL(http, { schema, service, inventory, verifier, limits, logger, production: config.production, onOperation: onOperation('http') });
  lifecycle.add('graphql stopped', () => apollo.stop());
  await http.listen({ port: config.port, host: config.host });
  lifecycle.add('http closed', () => closeHttp(http));
  if (runScans) runner.start();
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
    initTimeoutMs: config.wsInitTimeoutMs,
    logger,
    onOperation: onOperation('ws'),
    pacer: core.pacer,
  });
  lifecycle.add('websockets closed (1001)', () => sockets.stop());
  metrics.attach({ store, openSockets: () => sockets.openSockets, activeSubscriptions: () => sockets.activeSubscriptions, longestRenewalGapMs: () => runner.longestRenewalGapMs });

  const { port } = http.server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { url, port, sockets };
}

/**
 * Remove audit records older than the retention, hourly and soon after start, in small batches so a
 * long backlog never holds the store. Returns the function that stops it.
 */
function keepAuditFor(store: Store, days: number, logger: Logger): () => void {
  let running: Promise<void> | null = null;
  const prune = () => {
    running ??= (async () => {
      const before = new Date(Date.now() - days * 86_400_000);
      let removed = 0;
      for (let n = 1000; n === 1000; removed += n) n = await store.audit.prune(before, 1000);
      if (removed > 0) logger.info({ removed, before }, 'audit records past the retention removed');
    })()
      .catch((err: unknown) => logger.warn({ err }, 'could not remove audit records past the retention'))
      .finally(() => (running = null));
  };
  const first = setTimeout(prune, 60_000);
  const hourly = setInterval(prune, 3_600_000);
  first.unref();
  hourly.unref();
  return () => {
    clearTimeout(first);
    clearInterval(hourly);
  };
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

async function seedHosts(config: Config, store: Store): Promise<void> {
  const hosts = config.hostsFile
    ? await readHostsFile(config.hostsFile, 100_000)
    : config.production
      ? []
      : [DEMO_HOST];
  if (hosts.length === 0) return;
  const result = await store.hosts.upsert(hosts);
  if (result.conflicts) {
    const [index, message] = [...result.conflicts][0]!;
    throw new Error(`HOSTS_FILE entry $[${index}]: ${message}`);
  }
}

function mintDevTokens(key: KeyObject, config: Config) {
  const mint = (role: string) =>
    mintToken({ key, subject: `dev-${role.toLowerCase()}`, roles: [role], name: `dev ${role}`, ttl: '12h', issuer: config.jwtIssuer, audience: config.jwtAudience });
  return { admin: mint('Admin'), app: mint('App') };
}
