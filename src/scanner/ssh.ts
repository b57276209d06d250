import type { readHostKey } from '../inventory/probe-host-key';
import type { HostKey } from '../inventory/ssh-session';
import { probeSocket, type ProbeResult, type ProbeTimeouts } from './probe-result';

// RFC 4253 §4.2: the identification line is at most 255 bytes; servers may send other lines first.
const MAX_PREAMBLE_BYTES = 8192;

/** What an SSH server said: its identification line, and its host key when asked for and sent. */
export interface SshAnswer {
  banner: string;
  hostKey: HostKey | null;
}

/** Going on from the banner to the host key: who runs the key exchange, and how long it may take. */
export interface HostKeyRequest {
  read: typeof readHostKey;
  timeoutMs: number;
}

/**
 * Connect and read the server's SSH identification line (`SSH-2.0-…`). With `hostKey`, go on from there
 * into the key exchange on the same connection for the server's host key. The banner alone is the probe's
 * answer: a key exchange that fails or takes longer than `hostKey.timeoutMs` only leaves the key null.
 */
export function grabSshBanner(
  host: string,
  port: number,
  t: ProbeTimeouts,
  signal: AbortSignal,
  hostKey?: HostKeyRequest,
): Promise<ProbeResult<SshAnswer>> {
  return probeSocket<SshAnswer>(host, port, t, signal, 'SSH identification', (socket, finish, fail, answered) => {
    socket.setNoDelay(true);
    let buffered = '';
    // Kept only to hand on to the key exchange, which must read the stream from its start.
    const chunks: Buffer[] = [];
    let keyTimer: NodeJS.Timeout | undefined;
    const goOnToKey = (request: HostKeyRequest, banner: string) => {
      answered();
      socket.off('data', onData).off('end', onEnd);
      const withKey = (key: HostKey | null) => finish({ ok: true, value: { banner, hostKey: key } });
      keyTimer = setTimeout(() => withKey(null), request.timeoutMs);
      request.read(socket, Buffer.concat(chunks), (key) => withKey(key.ok ? key.value : null));
    };
    const onData = (chunk: Buffer) => {
      if (hostKey) chunks.push(chunk);
      buffered += chunk.toString('latin1');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).replace(/\r$/, '');
        buffered = buffered.slice(newline + 1);
        if (!line.startsWith('SSH-')) continue;
        const banner = line.slice(0, 255);
        return hostKey ? goOnToKey(hostKey, banner) : finish({ ok: true, value: { banner, hostKey: null } });
      }
      if (buffered.length > MAX_PREAMBLE_BYTES) fail('protocol', 'not an SSH server');
    };
    const onEnd = () => fail('protocol', 'closed without an SSH identification');
    socket.on('data', onData);
    socket.on('end', onEnd);
    return () => clearTimeout(keyTimer);
  });
}
