import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createVerifier, ephemeralSecret, mintToken } from './auth';
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
import { createMetrics } from './metrics';
import { bridgeRemoteEvents } from './remote-events';
import { createRunner, type Runner } from './runner';
import type { Scanner } from './scanner';
import { createProbeScanner } from './scanner/probe';
import { HostScanService } from './service';
import { openStore, type Store } from './store';

export interface Gateway {
  /** Base URL for loopback clients, e.g. `http://127.0.0.1:6500`. */
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  readonly service: HostScanService;
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
  });
  const devTokens = ephemeral ? mintDevTokens(ephemeral, config) : null;
  const metrics = createMetrics();

  // Stopped in reverse order of this list if start fails half-way; `stop()` below has its own order.
  const started: (() => Promise<unknown>)[] = [];
  const unwind = async () => {
    for (const stop of started.reverse().splice(0)) {
      await stop().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
    }
  };
  try {
    const store = await openStore({ databaseUrl: config.databaseUrl, databasePoolSize: config.databasePoolSize, dataDir: config.dataDir });
    started.push(() => store.stop());
    await seedHosts(config, store);

    let draining: string | null = null;
    const events = new JobEventBus((err) => logger.error({ err }, 'job event listener failed'));
    const cache = new JobCache(events);
    started.push(async () => cache.stop());
    const bridge = store.kind === 'postgres'
      ? await bridgeRemoteEvents({ store, events, logger, onDeaf: (deaf) => cache.setTrusted(!deaf) })
      : null;
    if (bridge) started.push(() => bridge.stop());
    const runner = createRunner({
      queue: store.queue,
      scanner: deps.scanner ?? createProbeScanner({ connectTimeout: config.scanConnectTimeout }),
      logger,
      publish: (jobs) => events.publish(jobs),
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
      refusal: () => draining,
      onJobsChanged: (jobs) => {
        events.publish(jobs);
        runner.wake();
      },
      onCancelRunning: (scanIds) => runner.cancel(scanIds),
    });
    const runScans = deps.runner ?? true;
    if (runScans) runner.start();
    started.push(() => runner.stop(0));

    const http = await createHttpServer({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      verifier,
      service,
      metrics,
      tls: config.tls,
      devToken: devTokens?.admin ?? null,
      version: VERSION,
      notReady: async () =>
        draining ??
        (runScans && !runner.running ? 'The scan runner is not running.' : null) ??
        ((await store.db.healthy()) ? null : 'The database is unreachable.'),
    });
    const schema = await buildGatewaySchema(service);
    const limits: GraphQLLimits = { ...config.graphql, introspection: !config.production, exposeLimits: !config.production };
    const onOperation = (transport: 'http' | 'ws') => (type: string, ok: boolean) => metrics.graphqlOperation(transport, type, ok);
    const apollo = await mountGraphQL(http, { schema, service, verifier, limits, logger, production: config.production, onOperation: onOperation('http') });
    started.push(() => apollo.stop());
    await http.listen({ port: config.port, host: config.host });
    started.push(() => http.close());
    const sockets = attachGraphQLSockets({
      server: http.server,
      path: '/graphql',
      schema,
      service,
      verifier,
      limits,
      maxSubscriptions: config.wsMaxSubscriptions,
      maxPayloadBytes: config.wsMaxPayloadBytes,
      maxSocketsPerSubject: config.wsMaxSocketsPerSubject,
      initTimeoutMs: config.wsInitTimeoutMs,
      logger,
      onOperation: onOperation('ws'),
    });
    started.push(() => sockets.stop());
    metrics.attach({ store, openSockets: () => sockets.openSockets, activeSubscriptions: () => events.listenerCount });

    const { port } = http.server.address() as AddressInfo;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `${config.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    logger.info({ port, url, store: store.kind, tls: !!config.tls, algorithms: verifier.algorithms, version: VERSION }, 'gateway listening');

    let stopping: Promise<void> | null = null;
    const stop = async () => {
      draining = 'The gateway is shutting down.';
      const begun = Date.now();
      const step = async (what: string, work: () => Promise<unknown>) => {
        await work().catch((err: unknown) => logger.error({ err }, `stopping: ${what} failed`));
        logger.info({ ms: Date.now() - begun }, `stopping: ${what} done`);
      };
      logger.info({ inFlight: runner.inFlight }, 'stopping: readiness 503, new schedules refused');
      await step('websockets closed (1001)', () => sockets.stop());
      await step('scans drained or handed back', () => runner.stop(config.shutdownDrainMs));
      await step('http closed', () => closeHttp(http));
      await step('graphql stopped', () => apollo.stop());
      if (bridge) await step('listen stopped', () => bridge.stop());
      await step('store closed', () => store.stop());
    };
    return { url, port, store, service, events, runner, sockets, devTokens, stop: () => (stopping ??= stop()) };
  } catch (err) {
    await unwind();
    throw err;
  }
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
