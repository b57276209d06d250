import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { Client, utils, type AuthMethod, type ParsedKey } from 'ssh2';
import { describeSocketError } from '../scanner/probe-result';
import { SshTrustAction } from './model';
import { SshSession } from './ssh-exec';

/** A server's host key as OpenSSH shows it: `ssh-ed25519`, `SHA256:…`. */
export interface HostKey {
  algorithm: string;
  fingerprint: string;
}

/** What to log in with. Never written to a message, a note or a log. */
export type SshCredential =
  | { username: string; password: string }
  | { username: string; privateKey: string | Buffer; passphrase?: string };

/** How to treat the server's host key; `knownFingerprint` is null on first contact. */
export interface HostKeyPolicy {
  trust: SshTrustAction;
  knownFingerprint: string | null;
}

export type SessionFailureReason = 'access-denied' | 'host-key-mismatch' | 'connect-failed' | 'timeout' | 'protocol';

/** Why no session was opened, in words safe to show a user, and the host key when one was seen. */
export interface SessionFailure {
  ok: false;
  reason: SessionFailureReason;
  message: string;
  hostKey?: HostKey;
}

export type OpenResult = { ok: true; session: SshSession; hostKey: HostKey; hostKeyChanged: boolean } | SessionFailure;

export interface LoginTimeouts {
  /** TCP connect. */
  connectTimeoutMs: number;
  /** From connected to logged in: identification, key exchange, host key check, authentication. */
  loginTimeoutMs: number;
}

/** OpenSSH's fingerprint of a key blob: `SHA256:` and the unpadded base64 of its SHA-256. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Algorithm and fingerprint of a host key blob as sent in the key exchange (RFC 4253 §6.6). */
export function hostKeyOf(blob: Buffer): HostKey {
  const parsed = utils.parseKey(blob);
  const algorithm = parsed instanceof Error ? 'unknown' : (Array.isArray(parsed) ? parsed[0]! : parsed).type;
  return { algorithm, fingerprint: fingerprintOf(blob) };
}

// OpenSSH sends this disconnect reason when it stops accepting authentication attempts.
const NO_MORE_AUTH_METHODS = 14;

/**
 * Connects, checks the host key against the policy, and logs in. The host key is checked inside the key
 * exchange, before authentication starts: under ErrorOnThumbprintMismatch a changed key ends the
 * connection and no password or key signature is ever sent. A first-contact key (no known fingerprint)
 * is accepted; `hostKeyChanged` is true whenever a known fingerprint differs, whatever the policy.
 * Resolves with a failure for every network, protocol or login problem; rejects only when `signal`
 * aborts, with `signal.reason`, after destroying the socket. On success the caller owns the session and
 * must `close()` it.
 */
export function openSession(
  host: string,
  port: number,
  credential: SshCredential,
  policy: HostKeyPolicy,
  timeouts: LoginTimeouts,
  signal: AbortSignal,
): Promise<OpenResult> {
  const where = `${host}:${port}`;
  const auth = authMethodOf(credential);
  if (auth === null) {
    return Promise.resolve({ ok: false, reason: 'access-denied', message: 'the private key could not be read: wrong passphrase or an unsupported key format' });
  }
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const client = new Client();
    let hostKey: HostKey | undefined;
    let changed = false;
    let refusedKey = false;
    let connected = false;
    let settled = false;
    const settle = (keepOpen: boolean, then: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (!keepOpen) {
        client.end();
        socket.destroy();
      }
      then();
    };
    const fail = (reason: SessionFailureReason, message: string) =>
      settle(false, () => resolve({ ok: false, reason, message, ...(hostKey ? { hostKey } : {}) }));
    const onAbort = () => settle(false, () => reject(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    let timer = setTimeout(() => fail('timeout', `no connection to ${where} within ${timeouts.connectTimeoutMs} ms`), timeouts.connectTimeoutMs);

    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) fail('connect-failed', `${where}: ${describeSocketError(err).message}`);
    });
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => fail('timeout', `no SSH login at ${where} within ${timeouts.loginTimeoutMs} ms`), timeouts.loginTimeoutMs);
      client.connect({
        sock: socket,
        username: credential.username,
        authHandler: [auth],
        readyTimeout: 0, // our own timer covers the whole login
        keepaliveInterval: 0,
        hostVerifier: (blob: Buffer) => {
          hostKey = hostKeyOf(blob);
          changed = policy.knownFingerprint !== null && policy.knownFingerprint !== hostKey.fingerprint;
          refusedKey = changed && policy.trust === SshTrustAction.ErrorOnThumbprintMismatch;
          return !refusedKey;
        },
      });
    });
    client.on('ready', () => {
      settle(true, () => resolve({ ok: true, session: new SshSession(client, socket), hostKey: hostKey!, hostKeyChanged: changed }));
    });
    client.on('error', (err: Error & { level?: string; code?: unknown }) => {
      if (refusedKey) {
        return fail('host-key-mismatch',
          `the host key of ${where} has changed: expected ${policy.knownFingerprint}, got ${hostKey!.fingerprint} (${hostKey!.algorithm}); no credential was sent`);
      }
      if (err.level === 'client-authentication' || err.code === NO_MORE_AUTH_METHODS) {
        return fail('access-denied', `${where} refused the login of ${credential.username}`);
      }
      if (err.level === 'client-socket') return fail('connect-failed', `${where}: ${describeSocketError(err as NodeJS.ErrnoException).message}`);
      if (err.level === 'client-timeout') return fail('timeout', `no SSH login at ${where} in time`);
      fail('protocol', `${where} did not complete an SSH login: ${oneLine(err.message)}`);
    });
    client.on('close', () => fail(connected ? 'protocol' : 'connect-failed', `${where} closed the connection before the login completed`));
  });
}

/** The one authentication method to offer, or null when a private key cannot be parsed with its passphrase. */
function authMethodOf(credential: SshCredential): AuthMethod | null {
  if ('password' in credential) return { type: 'password', username: credential.username, password: credential.password } as AuthMethod;
  let key: ParsedKey | ParsedKey[] | Error;
  try {
    key = utils.parseKey(credential.privateKey, credential.passphrase);
  } catch {
    return null;
  }
  if (key instanceof Error) return null;
  const one = Array.isArray(key) ? key[0] : key;
  if (!one || !one.isPrivateKey()) return null;
  return { type: 'publickey', username: credential.username, key: one } as AuthMethod;
}

// ssh2's messages can carry the server's disconnect text: keep one short line of it.
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = (text.split('\n', 1)[0] ?? '').replace(/[\u0000-\u001f\u007f]/g, '?');
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

export { SshSession };
