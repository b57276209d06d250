import type { Socket } from 'node:net';
import { Client } from 'ssh2';
import { probeSocket, type ProbeResult, type ProbeTimeouts } from '../scanner/probe-result';
import { hostKeyOf, type HostKey } from './ssh-session';

/** The host key, or why the key exchange gave none, in words for a status description. */
export type HostKeyRead = { ok: true; value: HostKey } | { ok: false; message: string };

/**
 * Runs the key exchange on a connected socket far enough to receive the server's host key, then refuses the
 * key, which ends the exchange before NEWKEYS: no user name is offered and nothing can be logged in.
 * `alreadyRead` is what was read from the socket before (a banner probe's bytes, the server's identification
 * among them): it is put back in front of the socket's data, so ssh2 reads the stream from its start and the
 * key exchange goes on from the connection the banner came on. Calls `done` once; bounding the time and
 * destroying the socket are the caller's.
 */
export function readHostKey(socket: Socket, alreadyRead: Buffer | null, done: (result: HostKeyRead) => void): void {
  let settled = false;
  const end = (result: HostKeyRead) => {
    if (settled) return;
    settled = true;
    done(result);
  };
  const client = new Client();
  client.on('error', (err: Error & { level?: string }) =>
    end({ ok: false, message: err.level === 'client-socket' ? 'connection lost during the key exchange' : 'not a usable SSH server' }));
  client.on('close', () => end({ ok: false, message: 'closed before sending a host key' }));
  if (alreadyRead && alreadyRead.length > 0) {
    // Paused, the bytes put back wait until ssh2 listens and resumes the socket (it does both in connect()).
    socket.pause();
    socket.unshift(alreadyRead);
  }
  client.connect({
    sock: socket,
    username: 'host-key-probe', // required by the library; authentication never starts
    readyTimeout: 0,
    keepaliveInterval: 0,
    // Refusing the key ends the key exchange before NEWKEYS, so no authentication can follow.
    hostVerifier: (blob: Buffer) => {
      end({ ok: true, value: hostKeyOf(blob) });
      return false;
    },
  });
}

/**
 * Connects and reads the server's host key without authenticating (readHostKey), on a connection of its
 * own. Never rejects; aborts like every probe.
 */
export function probeHostKey(host: string, port: number, t: ProbeTimeouts, signal: AbortSignal): Promise<ProbeResult<HostKey>> {
  return probeSocket<HostKey>(host, port, t, signal, 'SSH host key', (socket, finish, fail) => {
    readHostKey(socket, null, (key) => (key.ok ? finish(key) : fail('protocol', key.message)));
  });
}
