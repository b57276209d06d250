import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { bearerToken, type TokenVerifier } from './auth';
import { unauthenticated } from './errors';
import { handleError, sendAppError, sendProblem } from './rest/problem';
import { hostScanJobRoutes } from './rest/routes';
import type { HostScanService } from './service';

export interface HttpOptions {
  logger: Logger;
  bodyLimitBytes: number;
  verifier: TokenVerifier;
  service: HostScanService;
  /** Readiness: null when ready, else why not (answered with 503). */
  notReady: () => Promise<string | null> | string | null;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Request ids are W3C trace contexts (`00-<trace>-<span>-00`), the form ASP.NET puts in `traceId`.
 * A caller's `traceparent` keeps its trace id so that logs line up across services.
 */
function traceId(request: { headers: Record<string, string | string[] | undefined> }): string {
  const parent = request.headers.traceparent;
  const trace = (typeof parent === 'string' && TRACEPARENT.exec(parent)?.[1]) || randomBytes(16).toString('hex');
  return `00-${trace}-${randomBytes(8).toString('hex')}-00`;
}

/** One access-log line per request, without the query string (it is the caller's, and may carry anything). */
class AccessLog extends LogController {
  override incomingRequest(): void {}
  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    else reply.log.info(line, 'request');
  }
}

/** The HTTP server: vendor REST routes under /api/v1, health probes, JSON-only bodies, ProblemDetails errors. */
export async function createHttpServer(options: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new AccessLog({ requestIdLogLabel: 'traceId' }),
    genReqId: traceId,
    bodyLimit: options.bodyLimitBytes,
    requestTimeout: 30_000,
    // Large enough that an oversized token reaches the verifier and gets a ProblemDetails 401, not a bare 431.
    http: { maxHeaderSize: 128 * 1024 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false },
  });

  acceptJsonOnly(app);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, `No route matches ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}.`),
  );

  app.get('/health/live', async () => ({ status: 'live' }));
  app.get('/health/ready', async (_request, reply) => {
    const reason = await options.notReady();
    return reason ? reply.code(503).send({ status: 'unavailable', reason }) : { status: 'ready' };
  });

  await app.register(
    async (api) => {
      // The service validates every input; route schemas only document and serialize.
      api.setValidatorCompiler(() => () => true);
      api.addHook('onRequest', async (request, reply) => {
        try {
          request.principal = authenticate(options.verifier, request);
        } catch (err) {
          return sendAppError(reply, err as never);
        }
      });
      await api.register(hostScanJobRoutes, { prefix: '/HostScanJob', service: options.service });
    },
    { prefix: '/api/v1' },
  );
  return app;
}

/** The principal of the request's bearer token; UNAUTHENTICATED when there is none or it is not valid. */
export function authenticate(verifier: TokenVerifier, request: FastifyRequest) {
  const token = bearerToken(request.headers.authorization);
  if (!token) throw unauthenticated('A bearer token is required (Authorization: Bearer <token>).');
  return verifier.verify(token);
}

/**
 * Bodies must be JSON (anything else is 415). A byte order mark is refused: RFC 8259 forbids sending one,
 * and accepting it would hide a broken client. Prototype-poisoning keys are refused too.
 */
function acceptJsonOnly(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parse = app.getDefaultJsonParser('error', 'error');
  const parseJson = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
    const text = body.toString();
    if (text.charCodeAt(0) === 0xfeff) return done(jsonError('The body starts with a byte order mark (U+FEFF); send JSON without one.'));
    parse(request, text, (err, value) => {
      if (!err) return done(null, value);
      if ((err as { code?: string }).code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return done(err);
      done(jsonError(`The body is not valid JSON: ${jsonSyntaxMessage(text)}`));
    });
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  app.addContentTypeParser(/^application\/[\w.+-]+\+json$/, { parseAs: 'string' }, parseJson);
}

function jsonSyntaxMessage(text: string): string {
  try {
    JSON.parse(text);
    return 'it holds a __proto__ or constructor.prototype key.';
  } catch (err) {
    return (err as Error).message.slice(0, 200);
  }
}

function jsonError(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400, code: 'BAD_JSON', fieldErrors: { $: [message] } });
}
