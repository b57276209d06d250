import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ActionFailureReason } from '../model';
import type { ScanTarget } from '../model';
import { DEFAULT_SSH_PORT, DEFAULT_WINRM_PORT, type ScanOutcome, type Scanner } from './index';
import { osFromSshBanner, versionFromWinRm } from './os';
import type { ProbeResult, ProbeTimeouts } from './probe-result';
import { grabSshBanner } from './ssh';
import { identifyWinRm, type WinRmIdentity } from './winrm';

export interface ProbeScannerOptions extends Partial<ProbeTimeouts> {
  /** Name resolution; the system resolver (getaddrinfo, so /etc/hosts counts) by default. */
  resolve?: (name: string) => Promise<string>;
}

const systemResolve = async (name: string) => (await lookup(name)).address;

/**
 * The built-in scanner: resolve the host, then probe SSH and WinRM at once. The SSH identification line
 * names the system for the common families; an unauthenticated WS-Management Identify names Windows and
 * its version.
 */
export function createProbeScanner(options: ProbeScannerOptions = {}): Scanner {
  const timeouts: ProbeTimeouts = { connectTimeoutMs: options.connectTimeoutMs ?? 5_000, readTimeoutMs: options.readTimeoutMs ?? 10_000 };
  const resolve = options.resolve ?? systemResolve;
  return {
    async scan(target: ScanTarget, signal: AbortSignal): Promise<ScanOutcome> {
      const address = await resolveTarget(target, resolve, signal);
      if (typeof address !== 'string') return address;
      const sshPort = target.sshPort ?? DEFAULT_SSH_PORT;
      const winRmPort = target.winRmPort ?? DEFAULT_WINRM_PORT;
      const [ssh, winrm] = await Promise.all([
        grabSshBanner(address, sshPort, timeouts, signal),
        identifyWinRm(address, winRmPort, timeouts, signal),
      ]);
      signal.throwIfAborted();
      return combine(address, { ssh, sshPort, winrm, winRmPort });
    },
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
  ssh: ProbeResult<string>;
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
  const fromSsh = ssh.ok ? osFromSshBanner(ssh.value) : null;
  const windows = winrm.ok ? { os: 'Windows', version: versionFromWinRm(winrm.value.productVersion) } : null;
  const evidence = [
    ssh.ok ? `SSH ${printable(ssh.value)}` : null,
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
