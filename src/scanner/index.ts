import type { InventorySnapshot } from '../inventory/model';
import type { ActionFailureReason, ScanTarget } from '../model';

/** What a scan found. `failureReason` is set exactly when nothing useful was reached. */
export interface ScanOutcome {
  ok: boolean;
  failureReason?: ActionFailureReason;
  /** Human-readable: what was found, or what went wrong and where. */
  description: string;
  ipAddress: string | null;
  os: string | null;
  version: string | null;
  hostConnected: boolean;
  /** Where SSH answered with an identification, when it did (a credentialed scan logs in there). */
  sshEndpoint?: { host: string; port: number } | null;
  /** The SSH host key the host presented, when the scan read it. */
  hostKey?: { fingerprint: string; algorithm: string } | null;
  /** What a credentialed scan read; its notes make the scan CompletedWithErrors. */
  inventory?: InventorySnapshot | null;
}

export interface ScanOptions {
  /**
   * Told `true` when the scan waits for a host that has not answered (a connect, or the identification
   * it awaits once connected) for longer than answers usually take — a silent or slow host costs no CPU
   * while it waits — and `false` when that ends.
   */
  waiting?: (isWaiting: boolean) => void;
}

/**
 * Probes one host. Resolves with an outcome for every network result (refused, unreachable,
 * unresolvable…); rejects only when `signal` aborts, with `signal.reason`.
 */
export interface Scanner {
  scan(target: ScanTarget, signal: AbortSignal, options?: ScanOptions): Promise<ScanOutcome>;
}

export const DEFAULT_SSH_PORT = 22;
export const DEFAULT_WINRM_PORT = 5985;
