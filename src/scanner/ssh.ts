import { connect } from 'node:net';
import { describeSocketError, type ProbeResult } from './probe-result';

export interface ProbeTimeouts {
  connectTimeoutMs: number;
  readTimeoutMs: number;
}

// RFC 4253 §4.2: the identification line is at most 255 bytes; servers may send other lines first.
const MAX_PREAMBLE_BYTES = 8192;

/** Connect and read the server's SSH identification line (`SSH-2.0-…`). */
export function grabSshBanner(host: string, port: number, t: ProbeTimeouts, signal: AbortSignal): Promise<ProbeResult<string>> {
  return new Promise((resolve) => {
    let connected = false;
    let buffered = '';
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const finish = (result: ProbeResult<string>) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, kind: 'aborted', message: 'aborted', connected });
    let timer = setTimeout(() => finish({ ok: false, kind: 'timeout', message: 'connect timed out', connected }), t.connectTimeoutMs);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });

    socket.on('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(
        () => finish({ ok: false, kind: 'timeout', message: `no SSH identification within ${t.readTimeoutMs} ms`, connected }),
        t.readTimeoutMs,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).replace(/\r$/, '');
        buffered = buffered.slice(newline + 1);
        if (line.startsWith('SSH-')) return finish({ ok: true, value: line.slice(0, 255) });
      }
      if (buffered.length > MAX_PREAMBLE_BYTES) finish({ ok: false, kind: 'protocol', message: 'not an SSH server', connected });
    });
    socket.on('end', () => finish({ ok: false, kind: 'protocol', message: 'closed without an SSH identification', connected }));
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, ...describeSocketError(err), connected }));
  });
}
