import { ApolloServer, HeaderMap } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { authenticate, challenge, type Principal, type TokenVerifier } from '../auth';
import { isAppError, type ErrorCode } from '../errors';
import type { InventoryService } from '../inventory-service';
import type { HostScanService } from '../service';
import type { GraphQLContext } from './context';
import { checkCost } from './cost';
import { formatError, type RequestCode } from './errors';
import { jitGateway } from './jit';
import { limitRules, type GraphQLLimits } from './limits';
import { tracePlugin } from './trace-plugin';
import type { Tracing } from '../tracing';

export interface GraphQLHttpOptions {
  schema: GraphQLSchema;
  service: HostScanService;
  inventory: InventoryService;
  verifier: TokenVerifier;
  limits: GraphQLLimits;
  logger: Logger;
  production: boolean;
  /** Told about every operation: its type and whether it ended without errors. */
  onOperation?: (type: string, ok: boolean) => void;
  tracing?: Tracing | null;
}

/**
 * Apollo Server on `GET|POST /graphql`. The caller must send a valid bearer token (401 otherwise);
 * roles are the service's to check. CSRF prevention on, batching off, stack traces never.
 */
export async function mountGraphQL(app: FastifyInstance, o: GraphQLHttpOptions): Promise<ApolloServer<GraphQLContext>> {
  const log = o.logger.child({ component: 'graphql' });
  const apollo = new ApolloServer<GraphQLContext>({
    gateway: jitGateway(o.schema),
    introspection: o.limits.introspection,
    // The gateway stops Apollo in its own shutdown; Apollo's handler would re-send the signal when done.
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: !o.limits.introspection,
    parseOptions: { maxTokens: o.limits.maxTokens },
    validationRules: limitRules(o.limits),
    formatError: (formatted, error) =>
      formatError(formatted, error, (err) => log.error({ err }, 'internal error in a GraphQL operation'), !o.limits.introspection),
    plugins: [
      // No Apollo Sandbox: it loads from a CDN, which networks without internet cannot reach. In development
      // a browser opening /graphql is sent to the gateway's own explorer (see below).
      ApolloServerPluginLandingPageDisabled(),
      // Nothing here is cached by hint or traced for a federation gateway; off, they cost a hook per field.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ...(o.tracing ? [tracePlugin(o.tracing)] : []),
      {
        async requestDidStart() {
          return {
            async didResolveOperation({ operation, document, request }) {
              if (operation?.operation === 'subscription') {
                throw new GraphQLError('Subscriptions are served over WebSocket at /graphql (graphql-transport-ws protocol).', {
                  extensions: { code: 'BAD_REQUEST' satisfies RequestCode, http: { status: 400 } },
                });
              }
              checkCost(o.schema, document, request.operationName, request.variables, { maxCost: o.limits.maxCost, exposeLimits: o.limits.exposeLimits });
            },
            async willSendResponse({ operation, errors }) {
              o.onOperation?.(operation?.operation ?? 'unknown', !errors?.length);
            },
          };
        },
      },
    ],
    logger: { debug: (m) => log.debug(m), info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) },
  });
  await apollo.start();
  const handler = fastifyApolloHandler(apollo, {
    context: async (request: FastifyRequest) => ({
      principal: { ...(await principalOf(o.verifier, request)), address: request.ip, traceId: String(request.id) },
      ip: request.ip,
      service: o.service,
      inventory: o.inventory,
    }),
  });
  app.route({
    method: ['GET', 'POST'],
    url: '/graphql',
    ...(o.production ? {} : { onRequest: async (request: FastifyRequest, reply: FastifyReply) => (isBrowserVisit(request) ? reply.redirect('/explorer') : undefined) }),
    handler,
  });
  return apollo;
}

/** A person opening /graphql in a browser (a page load, not an operation sent over GET). */
function isBrowserVisit(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown> | undefined;
  return request.method === 'GET' && !query?.query && (request.headers.accept ?? '').includes('text/html');
}

/** A bad or missing token is an HTTP 401 with a GraphQL error body, not the 500 a throwing context means. */
async function principalOf(verifier: TokenVerifier, request: FastifyRequest): Promise<Principal> {
  try {
    return await authenticate(verifier, request.headers.authorization);
  } catch (err) {
    const message = isAppError(err) ? err.message : 'The bearer token is not valid.';
    throw new GraphQLError(message, {
      extensions: {
        code: 'UNAUTHENTICATED' satisfies ErrorCode,
        http: { status: 401, headers: new HeaderMap([['www-authenticate', challenge(message, !!request.headers.authorization)]]) },
      },
    });
  }
}
