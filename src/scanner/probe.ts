import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ActionFailureReason } from '../model';
import type { ScanTarget } from '../model';
import { DEFAULT_SSH_PORT, DEFAULT_WINRM_PORT, type ScanOptions, type ScanOutcome, type Scanner } from './index';
import { osFromSshBanner, versionFromWinRm } from './os';
import type { ProbeResult, ProbeTimeouts } from './probe-result';
import { RetryPolicy } from './retry';
import { ConnectTimeout, DEFAULT_CONNECT_TIMEOUT, type ConnectTimeoutBounds } from './rtt';
import { grabSshBanner, type HostKeyRequest, type SshAnswer } from './ssh';
import { identifyWinRm, type WinRmIdentity } from './winrm';

export interface ProbeScannerOptions {
  /** How long a connect waits for any answer; learnt from round trips within these bounds. */
  connectTimeout?: ConnectTimeoutBounds;
  /** How long a connected probe waits for its answer (an SSH identification, an HTTP response). @default 10000 */
  readTimeoutMs?: number;
  /** Name resolution; the system resolver (getaddrinfo, so /etc/hosts counts) by default. */
  resolve?: (name: string) => Promise<string>;
}

/** The probe scanner, with the connect timeout it learnt (for diagnostics and benchmarks). */
export interface ProbeScanner extends Scanner {
  readonly connectTimeout: ConnectTimeout;
  /**
   * With `hostKey`, where SSH answers, the probe goes on from the banner into the key exchange on the same
   * connection; the outcome carries `hostKey` when the server sent one.
   */
  scan(target: ScanTarget, signal: AbortSignal, options?: ScanOptions & { hostKey?: HostKeyRequest }): Promise<ScanOutcome>;
}

const systemResolve = async (name: string) => (await lookup(name)).address;

/**
 * The built-in scanner: resolve the host, then probe SSH and WinRM at once. The SSH identification line
 * names the system for the common families; an unauthenticated WS-Management Identify names Windows and
 * its version. A port that answers nothing (a dropped SYN) is given up after the connect timeout learnt
 * from the answers of all hosts so far (see ConnectTimeout) and said to give "no answer in N ms"; it is
 * tried once more only on a host that answered on its other port, while such retries pay (RetryPolicy).
 */
export function createProbeScanner(options: ProbeScannerOptions = {}): ProbeScanner {
  const connectTimeout = new ConnectTimeout(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT);
  const timeouts: ProbeTimeouts = { connect: connectTimeout, readTimeoutMs: options.readTimeoutMs ?? 10_000 };
  const resolve = options.resolve ?? systemResolve;
  const retries = new RetryPolicy();
  /** One more try for a port that said nothing on a host that answered on its other port, where that pays. */
  const retried = async <T>(first: ProbeResult<T>, other: ProbeResult<unknown>, again: () => Promise<ProbeResult<T>>): Promise<ProbeResult<T>> => {
    const hostAnswered = other.ok || other.connected || other.kind === 'refused';
    if (first.ok || first.kind !== 'silent' || !hostAnswered || !retries.shouldRetry()) return first;
    const second = await again();
    retries.record(second.ok || second.kind !== 'silent' && second.kind !== 'aborted');
    return !second.ok && second.kind === 'silent' ? { ...second, message: `${first.message}, nor to a second try` } : second;
  };
  return {
    connectTimeout,
    async scan(target: ScanTarget, signal: AbortSignal, options: ScanOptions & { hostKey?: HostKeyRequest } = {}): Promise<ScanOutcome> {
      const address = await resolveTarget(target, resolve, signal);
      if (typeof address !== 'string') return address;
      const sshPort = target.sshPort ?? DEFAULT_SSH_PORT;
      const winRmPort = target.winRmPort ?? DEFAULT_WINRM_PORT;
      const t = options.waiting ? { ...timeouts, waiting: waitingConnects(options.waiting) } : timeouts;
      const ssh = () => grabSshBanner(address, sshPort, t, signal, options.hostKey);
      const winrm = () => identifyWinRm(address, winRmPort, t, signal);
      const first = await Promise.all([ssh(), winrm()]);
      signal.throwIfAborted();
      const [sshResult, winrmResult] = await Promise.all([retried(first[0], first[1], ssh), retried(first[1], first[0], winrm)]);
      signal.throwIfAborted();
      return combine(address, { ssh: sshResult, sshPort, winrm: winrmResult, winRmPort });
    },
  };
}

/** A scan waits while any of its connects waits: told on the first such connect and when none is left. */
function waitingConnects(tell: (isWaiting: boolean) => void): (isWaiting: boolean) => void {
  let count = 0;
  return (isWaiting) => {
    count += isWaiting ? 1 : -1;
    if (isWaiting ? count === 1 : count === 0) tell(isWaiting);
  };
}

async function resolveTarget(
  target: ScanTarget,
  resolve: (name: string) => Promise<string>,
  signal: AbortSignal,
): Promise<string | ScanOutcome> {
  const name = target.dnsHostName ?? (target.ipAddress ? null : target.name);
  if (!name || isIP(name)) return name ?? target.ipAddress!;
  try {
    return await abortable(resolve(name), signal);
  } catch (err) {
    signal.throwIfAborted();
    // The vendor's ipAddress is the address "to use if DNS resolution fails".
    if (target.ipAddress) return target.ipAddress;
    return {
      ok: false,
      failureReason: ActionFailureReason.InvalidHostName,
      description: `Cannot resolve host name '${name}' (${(err as NodeJS.ErrnoException).code ?? 'lookup failed'})`,
      ipAddress: null,
      os: null,
      version: null,
      hostConnected: false,
    };
  }
}

interface Probes {
  ssh: ProbeResult<SshAnswer>;
  sshPort: number;
  winrm: ProbeResult<WinRmIdentity>;
  winRmPort: number;
}

function combine(ip: string, { ssh, sshPort, winrm, winRmPort }: Probes): ScanOutcome {
  const where = (port: number) => `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
  if (!ssh.ok && !winrm.ok) {
    const silent = [ssh, winrm].some((p) => !p.ok && p.kind === 'timeout' && p.connected);
    return {
      ok: false,
      failureReason: silent ? ActionFailureReason.ActionTimeout : ActionFailureReason.FailedToConnect,
      description: `Failed to connect: SSH ${ssh.message} (${where(sshPort)}); WinRM ${winrm.message} (${where(winRmPort)})`,
      ipAddress: ip,
      os: null,
      version: null,
      hostConnected: ssh.connected || winrm.connected,
    };
  }
  const fromSsh = ssh.ok ? osFromSshBanner(ssh.value.banner) : null;
  const windows = winrm.ok ? { os: 'Windows', version: versionFromWinRm(winrm.value.productVersion) } : null;
  const evidence = [
    ssh.ok ? `SSH ${printable(ssh.value.banner)}` : null,
    winrm.ok ? `WinRM ${winrm.value.authRequired ? 'requires authentication' : printable(winrm.value.productVersion ?? winrm.value.vendor ?? '')}` : null,
  ].filter(Boolean);
  const os = windows?.os ?? fromSsh?.os ?? null;
  return {
    ok: true,
    description: `Complete: ${os ? [os, windows?.version ?? fromSsh?.version].filter(Boolean).join(' ') : 'OS not recognised'} (${evidence.join('; ')})`,
    ipAddress: ip,
    os,
    version: windows?.version ?? (fromSsh?.os === os ? fromSsh?.version ?? null : null),
    hostConnected: true,
    sshEndpoint: ssh.ok ? { host: ip, port: sshPort } : null,
    ...(ssh.ok && ssh.value.hostKey ? { hostKey: ssh.value.hostKey } : {}),
  };
}

const printable = (text: string) => text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
