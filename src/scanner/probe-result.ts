/** The result of one network probe. Probes never reject: every network failure is a value. */
export type ProbeResult<T> =
  | { ok: true; value: T }
  | { ok: false; kind: 'refused' | 'timeout' | 'unreachable' | 'protocol' | 'aborted'; message: string; connected: boolean };

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
