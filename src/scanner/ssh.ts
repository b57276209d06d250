import { probeSocket, type ProbeResult, type ProbeTimeouts } from './probe-result';

// RFC 4253 §4.2: the identification line is at most 255 bytes; servers may send other lines first.
const MAX_PREAMBLE_BYTES = 8192;

/** Connect and read the server's SSH identification line (`SSH-2.0-…`). */
export function grabSshBanner(host: string, port: number, t: ProbeTimeouts, signal: AbortSignal): Promise<ProbeResult<string>> {
  return probeSocket<string>(host, port, t, signal, 'SSH identification', (socket, finish, fail) => {
    socket.setNoDelay(true);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).replace(/\r$/, '');
        buffered = buffered.slice(newline + 1);
        if (line.startsWith('SSH-')) return finish({ ok: true, value: line.slice(0, 255) });
      }
      if (buffered.length > MAX_PREAMBLE_BYTES) fail('protocol', 'not an SSH server');
    });
    socket.on('end', () => fail('protocol', 'closed without an SSH identification'));
  });
}
