import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  GraphQLError,
  getOperationAST,
  parse,
  print,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
} from 'graphql';
import type { Context, SubscribePayload } from 'graphql-ws';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal, TokenVerifier } from '../auth';
import type { HostScanService } from '../service';
import type { GraphQLContext } from './context';
import { checkCost } from './cost';
import { formatError } from './errors';
import { createPacer, type Pacer } from '../pacer';
import { createFanout, type Delivery } from './fanout';
import { limitRules, type GraphQLLimits } from './limits';
import { createKeyLimits } from './key-limits';
import { subscriptionKey } from './subscription-key';
import { serveGraphQLSockets, type SocketExtra } from './ws-adapter';

export interface GraphQLSocketOptions {
  server: Server;
  path: string;
  schema: GraphQLSchema;
  service: HostScanService;
  verifier: TokenVerifier;
  limits: GraphQLLimits;
  maxSubscriptions: number;
  maxPayloadBytes: number;
  maxSocketsPerSubject: number;
  /** Distinct subscription keys (see subscriptionKey) one subject may hold, and this instance in all. */
  maxDocumentsPerSubject: number;
  maxDocuments: number;
  /** Sockets one client address may hold open before they are acknowledged (HTTP 429 at upgrade beyond). */
  maxPendingPerAddress: number;
  initTimeoutMs: number;
  logger: Logger;
  /** Told about every operation sent over a socket: its type and whether it was accepted. */
  onOperation?: (type: string, ok: boolean) => void;
  /** Time slices for writing events to sockets, shared with the event bus. */
  pacer?: Pacer;
}

export interface GraphQLSockets {
  readonly openSockets: number;
  /** Subscriptions being served now. */
  readonly activeSubscriptions: number;
  /** Close every socket with 1001 and stop accepting. Idempotent. */
  stop(): Promise<void>;
}

type WsContext = Context<Record<string, unknown> | undefined, SocketExtra>;

// Longest delay setTimeout takes; later expiries are re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * graphql-ws on the HTTP server's upgrade path. The token comes from connectionParams (`Authorization:
 * "Bearer …"`, `authorization` or `token`); without a valid one the socket closes 4403, and it closes
 * 4403 when the token expires. Only subscriptions are accepted, with the limits and error masking HTTP
 * has, and at most `maxSubscriptions` at once per socket.
 */
export function attachGraphQLSockets(o: GraphQLSocketOptions): GraphQLSockets {
  const log = o.logger.child({ component: 'graphql-ws' });
  const wss = new WebSocketServer({ noServer: true, maxPayload: o.maxPayloadBytes, perMessageDeflate: false });
  const principals = new WeakMap<WsContext, Principal>();
  const expiryTimers = new WeakMap<WebSocket, NodeJS.Timeout>();
  const rules = [...specifiedRules, ...limitRules(o.limits)];
  const documents = new Map<string, DocumentNode | readonly GraphQLError[]>();
  const deliveries = new WeakMap<object, Delivery>();
  const socketsOf = new Map<string, number>();
  const keys = createKeyLimits(o.maxDocumentsPerSubject, o.maxDocuments);

  // Sockets not yet acknowledged, per client address: each costs memory and a timer until
  // WS_INIT_TIMEOUT_MS, and no token has paid for them yet.
  const pending = new Map<string, number>();
  const pendingOf = new WeakMap<WebSocket, string>();
  const settle = (ws: WebSocket) => {
    const address = pendingOf.get(ws);
    if (address === undefined) return;
    pendingOf.delete(ws);
    const n = (pending.get(address) ?? 1) - 1;
    if (n > 0) pending.set(address, n);
    else pending.delete(address);
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(request.url ?? '/', 'http://x').pathname !== o.path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const address = request.socket.remoteAddress ?? '';
    if ((pending.get(address) ?? 0) >= o.maxPendingPerAddress) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      pending.set(address, (pending.get(address) ?? 0) + 1);
      pendingOf.set(ws, address);
      ws.once('close', () => settle(ws));
      wss.emit('connection', ws, request);
    });
  };
  o.server.on('upgrade', onUpgrade);

  const format = (errors: readonly GraphQLError[]) =>
    errors.map((e) => formatError(e.toJSON(), e, (err) => log.error({ err }, 'internal error in a subscription'), !o.limits.introspection));
  const fanout = createFanout(format, o.pacer ?? createPacer());

  const disposable = serveGraphQLSockets<Record<string, unknown> | undefined>(
    {
      schema: o.schema,
      connectionInitWaitTimeout: o.initTimeoutMs,
      onConnect(ctx) {
        const principal = principalOf(o.verifier, ctx.connectionParams);
        // A token no subscription would accept gets no socket slot (graphql-ws closes 4403 Forbidden).
        if (!principal || !o.service.mayWatchJobs(principal)) return false;
        const open = socketsOf.get(principal.subject) ?? 0;
        if (open >= o.maxSocketsPerSubject) {
          // Like HTTP 429: a client may retry once it closed others.
          ctx.extra.socket.close(4429, 'Too many open sockets for this subject');
          return false;
        }
        socketsOf.set(principal.subject, open + 1);
        principals.set(ctx, principal);
        settle(ctx.extra.socket);
        closeAtExpiry(ctx.extra.socket, principal.expiresAt);
        return true;
      },
      onSubscribe(ctx, id, payload): ExecutionArgs | readonly GraphQLError[] {
        const result = subscribeArgs(ctx, id, payload);
        o.onOperation?.('subscription', !Array.isArray(result));
        return result;
      },
      onComplete(ctx, id) {
        keys.release(ctx.extra.socket, id);
      },
      subscribe: (args) => fanout.subscribe(args, deliveries.get(args.contextValue as object)!),
      onNext(_ctx, _id, _payload, _args, result) {
        return result.errors ? { ...result, errors: format(result.errors) } : undefined;
      },
      onError(_ctx, _id, _payload, errors) {
        return format(errors);
      },
      onClose(ctx) {
        clearTimeout(expiryTimers.get(ctx.extra.socket));
        keys.releaseSocket(ctx.extra.socket);
        const principal = principals.get(ctx);
        if (!principal) return;
        const open = (socketsOf.get(principal.subject) ?? 1) - 1;
        if (open > 0) socketsOf.set(principal.subject, open);
        else socketsOf.delete(principal.subject);
      },
    },
    wss,
    log,
  );

  /** The execution arguments of an accepted subscription, or the errors that refuse it. */
  function subscribeArgs(ctx: WsContext, id: string, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] {
    const principal = principals.get(ctx);
    if (!principal) return [new GraphQLError('Not authenticated.', { extensions: { code: 'UNAUTHENTICATED' } })];
    // graphql-ws has already reserved this subscription's id in ctx.subscriptions.
    if (Object.keys(ctx.subscriptions).length > o.maxSubscriptions) {
      return [new GraphQLError(`This socket already holds ${o.maxSubscriptions} subscriptions; complete one first.`, { extensions: { code: 'BAD_REQUEST' } })];
    }
    const document = parseAndValidate(payload.query);
    if (!('kind' in document)) return document;
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) return [new GraphQLError('The document holds no operation by that name.', { extensions: { code: 'BAD_USER_INPUT' } })];
    if (operation.operation !== 'subscription') {
      return [new GraphQLError(`Only subscriptions are accepted over WebSocket; send ${operation.operation}s to POST ${o.path}.`, { extensions: { code: 'BAD_REQUEST' } })];
    }
    try {
      checkCost(o.schema, document, payload.operationName, payload.variables, { maxCost: o.limits.maxCost, exposeLimits: o.limits.exposeLimits });
    } catch (err) {
      return [err as GraphQLError];
    }
    const key = subscriptionKey(document, payload.operationName, payload.variables);
    const refused = keys.acquire(ctx.extra.socket, id, principal.subject, key);
    if (refused) return [new GraphQLError(refused.message, { extensions: { code: refused.code } })];
    const contextValue: GraphQLContext = { principal, ip: ctx.extra.ip, service: o.service };
    deliveries.set(contextValue, { socket: ctx.extra.socket, id, key });
    return { schema: o.schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
  }

  /**
   * Parse every document, and validate once per distinct printed form: variants of one document that
   * differ in comments or layout share one validation (and one cache entry) instead of filling the cache.
   */
  function parseAndValidate(query: string): DocumentNode | readonly GraphQLError[] {
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: o.limits.maxTokens });
    } catch (err) {
      return [withCode(err instanceof GraphQLError ? err : new GraphQLError(String(err)), 'GRAPHQL_PARSE_FAILED')];
    }
    const canonical = print(document);
    const cached = documents.get(canonical);
    if (cached) return cached;
    const errors = validate(o.schema, document, rules);
    const result = errors.length > 0 ? errors.map((e) => withCode(e, 'GRAPHQL_VALIDATION_FAILED')) : document;
    if (canonical.length <= 10_000) {
      if (documents.size >= 500) documents.delete(documents.keys().next().value!);
      documents.set(canonical, result);
    }
    return result;
  }

  function closeAtExpiry(socket: WebSocket, expiresAt: number): void {
    const wait = expiresAt - Date.now();
    const timer = setTimeout(() => {
      if (Date.now() < expiresAt) return closeAtExpiry(socket, expiresAt);
      socket.close(4403, 'Token expired');
    }, Math.max(0, Math.min(wait, MAX_TIMER_MS)));
    timer.unref();
    expiryTimers.set(socket, timer);
  }

  let stopping: Promise<void> | null = null;
  return {
    get openSockets() {
      return wss.clients.size;
    },
    get activeSubscriptions() {
      return keys.held;
    },
    stop() {
      stopping ??= (async () => {
        o.server.off('upgrade', onUpgrade);
        await disposable.dispose();
      })();
      return stopping;
    },
  };
}

function principalOf(verifier: TokenVerifier, params: Record<string, unknown> | undefined): Principal | null {
  const raw = params?.Authorization ?? params?.authorization ?? params?.token;
  if (typeof raw !== 'string') return null;
  const token = /^Bearer\s+/i.test(raw) ? raw.replace(/^Bearer\s+/i, '') : raw;
  try {
    return verifier.verify(token.trim());
  } catch {
    return null;
  }
}

const withCode = (e: GraphQLError, code: string) =>
  new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, extensions: { code } });
