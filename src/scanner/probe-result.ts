import { connect, type Socket } from 'node:net';
import { armConnectDeadline, noticeLongWait, type ConnectTimeout } from './rtt';

/**
 * The result of one network probe. Probes never reject: every network failure is a value. `silent`: no
 * answer at all to the connect (a SYN dropped on the way); `timeout`: connected, then no answer in time.
 */
export type ProbeResult<T> =
  | { ok: true; value: T }
  | { ok: false; kind: 'refused' | 'silent' | 'timeout' | 'unreachable' | 'protocol' | 'aborted'; message: string; connected: boolean };

export interface ProbeTimeouts {
  /** Shared by every probe of a scanner: it learns from each answer how long an answer may take. */
  connect: ConnectTimeout;
  readTimeoutMs: number;
  /** Told when a connect, or the answer awaited once connected, takes longer than answers usually take (`true`), and when that wait ends. */
  waiting?: (isWaiting: boolean) => void;
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
export type Fail = (kind: 'silent' | 'timeout' | 'protocol', message: string) => void;
/**
 * Says the awaited answer came and the conversation goes on: the read time limit stops, and from then on
 * the conversation bounds its own time and handles the socket's errors (they no longer fail the probe).
 */
export type Answered = () => void;

/**
 * The scaffolding every TCP probe shares: connect within the scanner's connect timeout (which every
 * answer teaches), then give the conversation (`converse`) a read time limit; map socket errors to words;
 * stop at once when `signal` aborts; and always destroy the socket. `what` names the awaited answer in the read timeout's message.
 * A conversation that goes on past its answer (reading a host key after the banner) calls `answered`.
 */
export function probeSocket<T>(
  host: string,
  port: number,
  t: ProbeTimeouts,
  signal: AbortSignal,
  what: string,
  converse: (socket: Socket, finish: Finish<T>, fail: Fail, answered: Answered) => (() => void) | void,
): Promise<ProbeResult<T>> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    let goingOn = false;
    let cleanup: (() => void) | void;
    let readTimer: NodeJS.Timeout | undefined;
    let stopWaiting = () => {};
    // Told while the connect, and then the awaited answer, take longer than answers usually take.
    let stopNotice = () => {};
    const notice = () => (t.waiting ? noticeLongWait(t.connect.expectedMs, t.waiting) : () => {});
    const started = performance.now();
    const socket = connect({ host, port });
    const finish: Finish<T> = (result) => {
      if (settled) return;
      settled = true;
      stopWaiting();
      stopNotice();
      clearTimeout(readTimer);
      signal.removeEventListener('abort', onAbort);
      cleanup?.();
      socket.destroy();
      resolve(result);
    };
    const fail: Fail = (kind, message) => finish({ ok: false, kind, message, connected });
    const onAbort = () => finish({ ok: false, kind: 'aborted', message: 'aborted', connected });
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stopWaiting = armConnectDeadline(t.connect, started, (usedMs) => fail('silent', `no answer in ${usedMs} ms`));
    stopNotice = notice();
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (goingOn) return;
      // A refusal is an answer too (the host's RST): a round trip to learn from.
      if (!connected && err.code === 'ECONNREFUSED') t.connect.observe(performance.now() - started);
      finish({ ok: false, ...describeSocketError(err), connected });
    });
    socket.once('connect', () => {
      connected = true;
      stopWaiting();
      stopNotice();
      t.connect.observe(performance.now() - started);
      stopNotice = notice();
      readTimer = setTimeout(() => fail('timeout', `no ${what} within ${t.readTimeoutMs} ms`), t.readTimeoutMs);
      cleanup = converse(socket, finish, fail, () => {
        goingOn = true;
        stopNotice();
        clearTimeout(readTimer);
      });
    });
  });
}
