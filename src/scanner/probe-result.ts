import { connect, type Socket } from 'node:net';

/** The result of one network probe. Probes never reject: every network failure is a value. */
export type ProbeResult<T> =
  | { ok: true; value: T }
  | { ok: false; kind: 'refused' | 'timeout' | 'unreachable' | 'protocol' | 'aborted'; message: string; connected: boolean };

export interface ProbeTimeouts {
  connectTimeoutMs: number;
  readTimeoutMs: number;
}

/** Words for the socket errors a probe meets, for status descriptions a person can act on. */
export function describeSocketError(err: NodeJS.ErrnoException): { kind: 'refused' | 'unreachable'; message: string } {
  switch (err.code) {
    case 'ECONNREFUSED':
      return { kind: 'refused', message: 'connection refused' };
    case 'ECONNRESET':
      return { kind: 'refused', message: 'connection reset' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { kind: 'unreachable', message: 'host unreachable' };
    default:
      return { kind: 'unreachable', message: err.code ? `network error ${err.code}` : 'network error' };
  }
}

/** Ends a probe with a result (the first call wins); failures after connecting carry `connected: true`. */
export type Finish<T> = (result: ProbeResult<T>) => void;
export type Fail = (kind: 'timeout' | 'protocol', message: string) => void;

/**
 * The scaffolding every TCP probe shares: connect with a time limit, then give the conversation
 * (`converse`) a read time limit; map socket errors to words; stop at once when `signal` aborts; and
 * always destroy the socket. `what` names the awaited answer in the read timeout's message.
 */
export function probeSocket<T>(
  host: string,
  port: number,
  t: ProbeTimeouts,
  signal: AbortSignal,
  what: string,
  converse: (socket: Socket, finish: Finish<T>, fail: Fail) => (() => void) | void,
): Promise<ProbeResult<T>> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    let cleanup: (() => void) | void;
    const socket = connect({ host, port });
    const finish: Finish<T> = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      cleanup?.();
      socket.destroy();
      resolve(result);
    };
    const fail: Fail = (kind, message) => finish({ ok: false, kind, message, connected });
    const onAbort = () => finish({ ok: false, kind: 'aborted', message: 'aborted', connected });
    let timer = setTimeout(() => fail('timeout', 'connect timed out'), t.connectTimeoutMs);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, ...describeSocketError(err), connected }));
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => fail('timeout', `no ${what} within ${t.readTimeoutMs} ms`), t.readTimeoutMs);
      cleanup = converse(socket, finish, fail);
    });
  });
}
