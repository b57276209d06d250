import { Client } from 'ssh2';
import { probeSocket, type ProbeResult, type ProbeTimeouts } from '../scanner/probe-result';
import { hostKeyOf, type HostKey } from './ssh-session';

/**
 * Connects, runs the key exchange far enough to receive the server's host key, and disconnects without
 * authenticating: no user name is offered and nothing is logged in. For scans without a credential
 * that still want to record (or check) the host key. Never rejects; aborts like every probe.
 */
export function probeHostKey(host: string, port: number, t: ProbeTimeouts, signal: AbortSignal): Promise<ProbeResult<HostKey>> {
  return probeSocket<HostKey>(host, port, t, signal, 'SSH host key', (socket, finish, fail) => {
    const client = new Client();
    let got = false;
    client.on('error', (err: Error & { level?: string }) => {
      if (!got) fail('protocol', err.level === 'client-socket' ? 'connection lost during the key exchange' : 'not a usable SSH server');
    });
    client.on('close', () => {
      if (!got) fail('protocol', 'closed before sending a host key');
    });
    client.connect({
      sock: socket,
      username: 'host-key-probe', // required by the library; authentication never starts
      readyTimeout: 0,
      keepaliveInterval: 0,
      // Refusing the key ends the key exchange before NEWKEYS, so no authentication can follow.
      hostVerifier: (blob: Buffer) => {
        got = true;
        finish({ ok: true, value: hostKeyOf(blob) });
        return false;
      },
    });
  });
}
