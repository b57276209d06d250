import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createVerifier, ephemeralSecret, mintToken } from './auth';
import type { Config } from './config';
import { DEMO_HOST, readHostsFile } from './hosts-file';
import { createHttpServer } from './http';
import { JobEventBus } from './events';
import { bridgeRemoteEvents } from './remote-events';
import { mountGraphQL } from './graphql/http';
import type { GraphQLLimits } from './graphql/limits';
import { buildGatewaySchema } from './graphql/schema';
import { attachGraphQLSockets, type GraphQLSockets } from './graphql/ws';
import { createLogger } from './logger';
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
  /** Stops everything, in reverse order of start. Idempotent. */
  stop(): Promise<void>;
}

export interface GatewayDeps {
  logger?: Logger;
  /** Whether to run scans; tests turn it off to observe jobs while they are queued. @default true */
  runner?: boolean;
  /** The network scanner by default. */
  scanner?: Scanner;
}

/** The composition root: builds every part from `config`, wires them explicitly and starts listening. */
export async function startGateway(config: Config, deps: GatewayDeps = {}): Promise<Gateway> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const ephemeral = !config.jwtSecret && !config.jwtPublicKey ? ephemeralSecret() : null;
  const verifier = createVerifier({
    secret: config.jwtSecret ?? ephemeral,
    publicKeyPem: config.jwtPublicKey,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
  });

  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const stoppers: (() => Promise<unknown>)[] = [() => store.stop()];
  const stopAll = async () => {
    for (const stop of stoppers.reverse().splice(0)) {
      await stop().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
    }
  };
  try {
    await seedHosts(config, store);
    let draining: string | null = null;
    const events = new JobEventBus((err) => logger.error({ err }, 'job event listener failed'));
    const runner = createRunner({
      queue: store.queue,
      scanner: deps.scanner ?? createProbeScanner(),
      logger,
      publish: (jobs) => events.publish(jobs),
      concurrency: config.scanConcurrency,
      timeoutMs: config.scanTimeoutMs,
      leaseMs: config.scanLeaseMs,
      retryLimit: config.scanRetryLimit,
      retryBackoffMs: config.scanRetryBackoffMs,
    });
    const service = new HostScanService({
      store,
      events,
      maxHostIds: config.maxHostIds,
      refusal: () => draining,
      onJobsChanged: (jobs) => {
        events.publish(jobs);
        runner.wake();
      },
      onCancelRunning: (scanIds) => runner.cancel(scanIds),
    });
    if (store.kind === 'postgres') {
      const bridge = await bridgeRemoteEvents({ store, events, logger });
      stoppers.push(() => bridge.stop());
    }
    const runScans = deps.runner ?? true;
    if (runScans) {
      runner.start();
      stoppers.push(() => runner.stop());
    }
    const http = await createHttpServer({
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      verifier,
      service,
      notReady: async () =>
        draining ??
        (runScans && !runner.running ? 'The scan runner is not running.' : null) ??
        ((await store.db.healthy()) ? null : 'The database is unreachable.'),
    });
    const schema = await buildGatewaySchema(service);
    const limits: GraphQLLimits = { ...config.graphql, introspection: !config.production, exposeLimits: !config.production };
    const apollo = await mountGraphQL(http, { schema, service, verifier, limits, logger, production: config.production });
    stoppers.push(() => apollo.stop());
    await http.listen({ port: config.port, host: config.host });
    stoppers.push(async () => {
      draining = 'The gateway is shutting down.';
      await http.close();
    });
    const sockets = attachGraphQLSockets({
      server: http.server,
      path: '/graphql',
      schema,
      service,
      verifier,
      limits,
      maxSubscriptions: config.wsMaxSubscriptions,
      maxPayloadBytes: config.wsMaxPayloadBytes,
      logger,
      production: config.production,
    });
    stoppers.push(() => sockets.stop());

    const { port } = http.server.address() as AddressInfo;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    logger.info({ port, store: store.kind, algorithms: verifier.algorithms }, 'gateway listening');
    let stopping: Promise<void> | null = null;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      port,
      store,
      service,
      events,
      runner,
      sockets,
      devTokens: ephemeral ? devTokens(ephemeral, config) : null,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
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

function devTokens(key: Parameters<typeof mintToken>[0]['key'], config: Config) {
  const mint = (role: string) =>
    mintToken({ key, subject: `dev-${role.toLowerCase()}`, roles: [role], name: `dev ${role}`, ttl: '12h', issuer: config.jwtIssuer, audience: config.jwtAudience });
  return { admin: mint('Admin'), app: mint('App') };
}
