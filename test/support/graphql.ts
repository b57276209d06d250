import { createClient, type Client, type FormattedExecutionResult as ExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

/** POST a GraphQL operation with a bearer token; returns status and parsed body. */
export async function gql(url: string, token: string | null, query: string, variables?: Record<string, unknown>) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as { data?: any; errors: any[] } };
}

/** The real graphql-ws client over `ws`. */
export function wsClient(url: string, connectionParams: Record<string, unknown>): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
}

/** Collect every result of one subscription until it completes or fails. */
export function collect(client: Client, query: string, variables?: Record<string, unknown>) {
  const results: ExecutionResult<any, any>[] = [];
  const done = new Promise<ExecutionResult<any, any>[]>((resolve, reject) => {
    client.subscribe({ query, variables }, {
      next: (r) => results.push(r),
      error: reject,
      complete: () => resolve(results),
    });
  });
  return { results, done };
}

/** A raw socket speaking graphql-transport-ws by hand, to test the protocol's edges. */
export async function rawSocket(url: string, protocol: string | null = 'graphql-transport-ws') {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, protocol ?? []);
  const messages: any[] = [];
  const waiting: ((m: any) => void)[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    const w = waiting.shift();
    if (w) w(m);
    else messages.push(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    closed,
    send: (m: unknown) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    /** The next message; fails after `timeoutMs` without one, so a test never hangs on a silent socket. */
    next: (timeoutMs = 15_000): Promise<any> => {
      if (messages.length > 0) return Promise.resolve(messages.shift());
      return new Promise((resolve, reject) => {
        const take = (m: unknown) => {
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(take), 1);
          reject(new Error(`no message on the raw socket within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.push(take);
      });
    },
  };
}
