import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { authenticate, type TokenVerifier } from './auth';
import { lazyChildLogger } from './lazy-logger';
import { dashboardRoutes } from './dashboard';
import { explorerRoutes } from './explorer';
import { acceptJsonOnly } from './json-body';
import { registerRateLimits } from './rate-limits';
import { requestSpans, traceRequests } from './request-spans';
import type { Tracing } from './tracing';
import type { Metrics } from './metrics';
import { registerOpenApi } from './openapi';
import { handleError, handleFrameworkError, sendAppError, sendProblem } from './rest/problem';
import { auditRoutes } from './rest/audit-routes';
import { backupRoutes } from './rest/backup-routes';
import { inventoryRoutes } from './rest/inventory-routes';
import type { InventoryService } from './inventory-service';
import { hostScanJobRoutes } from './rest/routes';
import { importRoutes } from './rest/import-routes';
import type { HostImportService } from './host-import-service';
import { signInRoutes, userTokenRoute } from './rest/signin-routes';
import type { SignInService } from './sign-in';
import type { AuditService } from './audit-service';
import type { BackupService } from './backup-service';
import type { HostScanService } from './service';

export interface HttpOptions {
  logger: Logger;
  bodyLimitBytes: number;
  verifier: TokenVerifier;
  service: HostScanService;
  imports: HostImportService;
  inventory: InventoryService;
  audit: AuditService;
  backups: BackupService;
  signIn: SignInService;
  /** The public keys of the gateway's own tokens. */
  jwks: () => { keys: unknown[] };
  /** How long a verifier may cache them: less than the next key's lead (see key-rotation.ts). */
  jwksMaxAgeS: number;
  metrics: Metrics;
  /** PEM certificate and key: serve HTTPS (and WSS) instead of HTTP. */
  tls: { cert: string; key: string } | null;
  /** Filled into the dashboard and the explorer for local visitors in development. */
  devToken: string | null;
  /** Serve the GraphQL explorer at /explorer (development only). */
  explorer: boolean;
  version: string;
  rateLimits: { perAddress: number; perSubject: number; windowMs: number };
  /** Spans for requests when tracing is on (their trace ids are the requests' traceIds). */
  tracing: Tracing | null;
  /** Readiness: null when ready, else why not (answered with 503). */
  notReady: () => Promise<string | null> | string | null;
  /** Ready but impaired: null when not, else why (answered with 200 and status `degraded`). */
  degraded?: () => string | null;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
// Large enough that an oversized token reaches the verifier and gets a ProblemDetails 401, not a bare 431.
const MAX_HEADER_BYTES = 128 * 1024;

/**
 * Request ids are W3C trace contexts (`00-<trace>-<span>-00`), the form ASP.NET puts in `traceId`.
 * A caller's `traceparent` keeps its trace id so that logs line up across services.
 */
function traceId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const parent = request.headers.traceparent;
  // randomUUID draws from a cached entropy pool: far cheaper per request than randomBytes.
  const random = randomUUID().replace(/-/g, '');
  const trace = (typeof parent === 'string' && TRACEPARENT.exec(parent)?.[1]) || random;
  return `00-${trace}-${random.slice(16)}-00`;
}

/**
 * One access-log line and one metrics sample per request. The query string is left out: it is the
 * caller's and may carry anything.
 */
class AccessLog extends LogController {
  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    super({ requestIdLogLabel: 'traceId' });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    this.metrics.httpRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    const line = { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    // Through the root logger, so that a request's own (lazy) child is not made just for this line.
    else this.logger.info({ traceId: request.id, ...line }, 'request');
  }
}

const status = (extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties: { status: { type: 'string' }, ...extra },
}) as const;

/**
 * The HTTP server: vendor REST routes under /api/v1 with their OpenAPI document, health probes, metrics and
 * the dashboard. JSON-only bodies; every error a ProblemDetails.
 */
export async function createHttpServer(options: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new AccessLog(options.metrics, options.logger),
    childLoggerFactory: lazyChildLogger as never,
    genReqId: options.tracing ? requestSpans(options.tracing).traceId : traceId,
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: 30_000,
    ...(options.tls ? { https: { ...options.tls, maxHeaderSize: MAX_HEADER_BYTES } } : { http: { maxHeaderSize: MAX_HEADER_BYTES } }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false },
    frameworkErrors: handleFrameworkError,
  }) as unknown as FastifyInstance;

  if (options.tracing) traceRequests(app);
  acceptJsonOnly(app);
  app.setErrorHandler(handleError);
  await registerRateLimits(app, { verifier: options.verifier, ...options.rateLimits, onLimited: (limit) => options.metrics.rateLimited(limit) });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, `No route matches ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}.`),
  );
  await registerOpenApi(app, options.version);

  app.get('/health/live', { schema: { summary: 'The process runs', response: { 200: status() } } }, async () => ({ status: 'live' }));
  app.get('/health/ready', {
    schema: {
      summary: 'The store is open and the gateway takes work (503 while starting, draining or without its database; 200 degraded while it works around a fault)',
      response: { 200: status({ reason: { type: 'string' } }), 503: status({ reason: { type: 'string' } }) },
    },
  }, async (_request, reply) => {
    const reason = await options.notReady();
    if (reason) return reply.code(503).send({ status: 'unavailable', reason });
    const impaired = options.degraded?.();
    return impaired ? { status: 'degraded', reason: impaired } : { status: 'ready' };
  });
  app.get('/.well-known/jwks.json', { schema: { summary: "The public keys of the gateway's own tokens (RFC 7517)" } }, async (_request, reply) =>
    reply.header('cache-control', `public, max-age=${options.jwksMaxAgeS}`).send(options.jwks()),
  );
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics()),
  );

  await app.register(
    async (api) => {
      // The service validates every input; route schemas only document and serialize.
      api.setValidatorCompiler(() => () => true);
      api.addHook('onRequest', async (request, reply) => {
        try {
          request.principal = await authenticate(options.verifier, request.headers.authorization);
        } catch (err) {
          return sendAppError(reply, err as never);
        }
      });
      await api.register(inventoryRoutes, { prefix: '/HostScanJob', inventory: options.inventory });
      await api.register(hostScanJobRoutes, { prefix: '/HostScanJob', service: options.service });
      await api.register(importRoutes, { prefix: '/HostScanJob', imports: options.imports });
      await api.register(auditRoutes, { prefix: '/audit', audit: options.audit });
      await api.register(backupRoutes, { prefix: '/backup', backups: options.backups });
      await api.register(userTokenRoute, { signIn: options.signIn });
    },
    { prefix: '/api/v1' },
  );
  await app.register(signInRoutes, { signIn: options.signIn, secure: !!options.tls });
  await app.register(dashboardRoutes, { devToken: options.devToken });
  if (options.explorer) await app.register(explorerRoutes);
  return app;
}
