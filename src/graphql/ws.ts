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
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticate, type Principal, type TokenVerifier } from '../auth';
import type { InventoryService } from '../inventory-service';
import type { HostScanService } from '../service';
import type { GraphQLContext } from './context';
import { checkCost } from './cost';
import { CloseCode } from './close-codes';
import { formatError, requestError, type RequestCode } from './errors';
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
  inventory: InventoryService;
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
  /** Messages one socket may send per second (close 1013 beyond). */
  maxMessagesPerSecond: number;
  onRateLimited?: () => void;
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
  /** Close the sockets of `subject` with 4403 (its tokens were revoked); returns how many. */
  closeSubject(subject: string): number;
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
  // Validated documents by their printed form; clients resubscribe with the same few.
  const documents = new LRUCache<string, DocumentNode | readonly GraphQLError[]>({ max: 500 });
  const deliveries = new WeakMap<object, Delivery>();
  const socketsOf = new Map<string, number>();
  const openOf = new Map<string, Set<WebSocket>>();
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
      async onConnect(ctx) {
        const principal = await principalOf(o.verifier, ctx.connectionParams);
        // A token no subscription would accept gets no socket slot (graphql-ws closes 4403 Forbidden).
        if (!principal || !o.service.mayWatchJobs(principal)) return false;
        const open = socketsOf.get(principal.subject) ?? 0;
        if (open >= o.maxSocketsPerSubject) {
          // A limit that frees itself when the subject closes a socket: "try again later", which the
          // graphql-ws client retries (its 4429 means a protocol error: a second connection_init).
          ctx.extra.socket.close(CloseCode.TryAgainLater, 'Too many open sockets for this subject');
          return false;
        }
        socketsOf.set(principal.subject, open + 1);
        openOf.set(principal.subject, (openOf.get(principal.subject) ?? new Set()).add(ctx.extra.socket));
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
        const mine = openOf.get(principal.subject);
        mine?.delete(ctx.extra.socket);
        if (mine?.size === 0) openOf.delete(principal.subject);
      },
    },
    wss,
    log,
    { maxMessagesPerSecond: o.maxMessagesPerSecond, onLimited: o.onRateLimited },
  );

  /** The execution arguments of an accepted subscription, or the errors that refuse it. */
  function subscribeArgs(ctx: WsContext, id: string, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] {
    const principal = principals.get(ctx);
    if (!principal) return [requestError('Not authenticated.', 'UNAUTHENTICATED')];
    // graphql-ws has already reserved this subscription's id in ctx.subscriptions.
    if (Object.keys(ctx.subscriptions).length > o.maxSubscriptions) {
      return [requestError(`This socket already holds ${o.maxSubscriptions} subscriptions; complete one first.`, 'BAD_REQUEST')];
    }
    const document = parseAndValidate(payload.query);
    if (!('kind' in document)) return document;
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) return [requestError('The document holds no operation by that name.', 'BAD_USER_INPUT')];
    if (operation.operation !== 'subscription') {
      return [requestError(`Only subscriptions are accepted over WebSocket; send ${operation.operation}s to POST ${o.path}.`, 'BAD_REQUEST')];
    }
    try {
      checkCost(o.schema, document, payload.operationName, payload.variables, { maxCost: o.limits.maxCost, exposeLimits: o.limits.exposeLimits });
    } catch (err) {
      return [err as GraphQLError];
    }
    const key = subscriptionKey(document, payload.operationName, payload.variables);
    const refused = keys.acquire(ctx.extra.socket, id, principal.subject, key);
    if (refused) return [requestError(refused.message, refused.code)];
    const contextValue: GraphQLContext = { principal: { ...principal, address: ctx.extra.ip }, ip: ctx.extra.ip, service: o.service, inventory: o.inventory };
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
      documents.set(canonical, result);
    }
    return result;
  }

  function closeAtExpiry(socket: WebSocket, expiresAt: number): void {
    const wait = expiresAt - Date.now();
    const timer = setTimeout(() => {
      if (Date.now() < expiresAt) return closeAtExpiry(socket, expiresAt);
      socket.close(CloseCode.Forbidden, 'Token expired');
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
    closeSubject(subject) {
      const mine = [...(openOf.get(subject) ?? [])];
      for (const socket of mine) socket.close(CloseCode.Forbidden, 'Token revoked');
      return mine.length;
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

/**
 * The principal of a socket's connectionParams: `Authorization: "Bearer …"` as HTTP sends it, or the token
 * alone under `authorization` or `token`. Null when there is no valid one (the socket closes 4403).
 */
async function principalOf(verifier: TokenVerifier, params: Record<string, unknown> | undefined): Promise<Principal | null> {
  const raw = params?.Authorization ?? params?.authorization ?? params?.token;
  if (typeof raw !== 'string') return null;
  try {
    return await authenticate(verifier, /^Bearer\s/i.test(raw) ? raw : `Bearer ${raw.trim()}`);
  } catch {
    return null;
  }
}

const withCode = (e: GraphQLError, code: RequestCode) =>
  new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, extensions: { code } });
