import {
  GraphQLError,
  createSourceEventStream,
  execute,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
} from 'graphql';
import type { WebSocket } from 'ws';

/** Where and under which id a subscription's messages go. */
export interface Delivery {
  socket: WebSocket;
  id: string;
}

// Above this much unsent data a socket is behind: stop writing and let the job stream coalesce.
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 64 * 1024;

/**
 * Serves subscriptions without executing the selection per subscriber: the result of (document,
 * variables, event) is computed and serialized once, and every socket that subscribed the same way gets
 * the same bytes (only the message id differs). Events are objects the event bus hands to every
 * subscriber alike (job states). Stock graphql-ws executes and serializes once per subscriber and event.
 */
export function createFanout(format: (errors: readonly GraphQLError[]) => GraphQLFormattedError[]) {
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

  // Subscriptions made the same way share one key string instead of each holding a copy.
  const keys = new Map<string, string>();
  const internKey = (key: string) => {
    const known = keys.get(key);
    if (known !== undefined) return known;
    if (keys.size >= 10_000) keys.clear();
    keys.set(key, key);
    return key;
  };

  const serialize = (result: ExecutionResult) =>
    JSON.stringify(result.errors ? { ...result, errors: format(result.errors) } : result);

  return {
    /**
     * Open the source stream (the subscription's own resolver: roles, validation, initial state) and
     * write every event straight to the socket. The returned stream yields nothing unless the source
     * fails mid-way, in which case it yields one error result; graphql-ws completes the subscription
     * when it ends, and stops it (return()) when the client completes.
     */
    async subscribe(args: ExecutionArgs, delivery: Delivery): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
      const source = await createSourceEventStream(args);
      if (!(Symbol.asyncIterator in source)) return source;
      const key = internKey(`${args.document.loc?.source.body ?? ''}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`);
      const prefix = `{"id":${JSON.stringify(delivery.id)},"type":"next","payload":`;
      const { socket } = delivery;
      return (async function* (): AsyncGenerator<ExecutionResult> {
        const events = source as AsyncIterableIterator<object>;
        try {
          for await (const event of events) {
            const payload = payloadFor(event, key, args);
            if (socket.readyState !== socket.OPEN) return;
            socket.send(prefix + (typeof payload === 'string' ? payload : await payload) + '}');
            if (socket.bufferedAmount > HIGH_WATER_BYTES) await drained(socket);
          }
        } catch (err) {
          yield { errors: [err instanceof GraphQLError ? err : new GraphQLError((err as Error).message, { originalError: err as Error })] };
        } finally {
          await events.return?.();
        }
      })();
    },
  };
}

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
