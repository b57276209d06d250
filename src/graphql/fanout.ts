import {
  GraphQLError,
  createSourceEventStream,
  execute,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Pacer } from '../pacer';

/** Where and under which id a subscription's messages go, and under which key its results are shared. */
export interface Delivery {
  socket: WebSocket;
  id: string;
  /** From subscriptionKey: subscriptions with the same key get the same bytes for an event. */
  key: string;
}

// Above this much unsent data a socket is behind: stop writing and let the job stream coalesce.
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 64 * 1024;

/**
 * Serves subscriptions without executing the selection per subscriber: the result of (key, event) is
 * computed and serialized once, and every socket that subscribed with the same key gets the same bytes
 * (only the message id differs). Events are objects the event bus hands to every subscriber alike (job
 * states). Stock graphql-ws executes and serializes once per subscriber and event. Writing to sockets is
 * paced in time slices, so a burst of events to many subscribers never holds the event loop for long;
 * a subscriber's job stream keeps only the newest state per job meanwhile.
 */
export function createFanout(format: (errors: readonly GraphQLError[]) => GraphQLFormattedError[], pacer: Pacer) {
  // Keyed by the event object, so an entry lives exactly as long as the event is referenced.
  const payloads = new WeakMap<object, Map<string, string | Promise<string>>>();

  function payloadFor(event: object, key: string, args: ExecutionArgs): string | Promise<string> {
    let perEvent = payloads.get(event);
    if (!perEvent) payloads.set(event, (perEvent = new Map()));
    let payload = perEvent.get(key);
    if (payload === undefined) {
      const result = execute({ ...args, rootValue: event });
      payload = result instanceof Promise ? result.then((r) => serialize(r)) : serialize(result);
      perEvent.set(key, payload);
    }
    return payload;
  }

  const serialize = (result: ExecutionResult) =>
    JSON.stringify(result.errors ? { ...result, errors: format(result.errors) } : result);

  return {
    /**
     * Open the source stream (the subscription's own resolver: roles, validation, initial state) and
     * write every event straight to the socket. The returned stream yields nothing unless the source
     * fails mid-way, in which case it yields one error result; graphql-ws completes the subscription
     * when it ends, and stops it (return()) when the client completes. When the socket closes, the
     * source is closed at once: a subscription never outlives its socket waiting for the next event.
     */
    async subscribe(args: ExecutionArgs, delivery: Delivery): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
      const source = await createSourceEventStream(args);
      if (!(Symbol.asyncIterator in source)) return source;
      const events = source as AsyncIterableIterator<object>;
      const { socket, key } = delivery;
      const prefix = `{"id":${JSON.stringify(delivery.id)},"type":"next","payload":`;
      const forget = whenClosed(socket, () => void events.return?.());
      return (async function* (): AsyncGenerator<ExecutionResult> {
        try {
          for await (const event of events) {
            const payload = payloadFor(event, key, args);
            if (socket.readyState !== socket.OPEN) return;
            corkForThisTurn(socket);
            socket.send(prefix + (typeof payload === 'string' ? payload : await payload) + '}');
            if (socket.bufferedAmount > HIGH_WATER_BYTES) await drained(socket);
            const turn = pacer.pace();
            if (turn) await turn;
          }
        } catch (err) {
          yield { errors: [err instanceof GraphQLError ? err : new GraphQLError((err as Error).message, { originalError: err as Error })] };
        } finally {
          forget();
          await events.return?.();
        }
      })();
    },
  };
}

/** Per open socket, what ends with it: its subscriptions' sources. */
const closers = new WeakMap<WebSocket, Set<() => void>>();

/**
 * Calls `f` when the socket closes (at once if it has), through one 'close' listener per socket however
 * many subscriptions it holds: one listener each made Node warn of a leak past ten. Returns the undo.
 */
function whenClosed(socket: WebSocket, f: () => void): () => void {
  if (socket.readyState !== socket.OPEN) {
    f();
    return () => {};
  }
  let set = closers.get(socket);
  if (!set) {
    const fs = new Set<() => void>();
    closers.set(socket, fs);
    socket.once('close', () => {
      closers.delete(socket);
      for (const g of fs) g();
    });
    set = fs;
  }
  set.add(f);
  const fs = set;
  return () => void fs.delete(f);
}

/**
 * Messages written to one socket within a turn of the event loop go out in one system call: the TCP
 * socket is corked at the first and uncorked once the turn's microtasks are done (nextTick runs after
 * them). Without it every message was its own writev, 60 % of the fan-out's CPU with 200 subscribers.
 */
function corkForThisTurn(socket: WebSocket): void {
  // `ws` keeps the TCP socket as `_socket` and exposes no cork of its own.
  const raw = (socket as unknown as { _socket?: Socket })._socket;
  if (!raw || corked.has(raw)) return;
  corked.add(raw);
  raw.cork();
  process.nextTick(() => {
    corked.delete(raw);
    raw.uncork();
  });
}
const corked = new WeakSet<Socket>();

/** Resolves once the socket's unsent data fell below the low-water mark, or it closed. */
function drained(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (socket.readyState !== socket.OPEN || socket.bufferedAmount < LOW_WATER_BYTES) return resolve();
      setTimeout(check, 20);
    };
    check();
  });
}
