import type { CollectLimits, SshCredential } from '../inventory';
import type { ScanTarget } from '../model';
import type { ScanOutcome } from './index';
import type { ConnectTimeoutBounds } from './rtt';

/** What the scanner thread is started with. */
export interface ScanThreadOptions {
  connectTimeout?: ConnectTimeoutBounds;
  keyReadTimeoutMs?: number;
  collectLimits?: Partial<CollectLimits>;
  /** Whether hosts with a credential are logged into (credentials are asked of the main thread one at a time). */
  credentials: boolean;
}

/** Main thread → scanner thread; sent in arrays, one per turn of the event loop. */
export type ToThread =
  | { t: 'scan'; id: number; target: ScanTarget }
  | { t: 'abort'; id: number }
  | { t: 'credential'; id: number; credential: SshCredential | null; error?: string };

/** Scanner thread → main thread; sent in arrays, one per turn of the event loop. */
export type FromThread =
  | { t: 'ready' }
  | { t: 'done'; id: number; outcome: ScanOutcome }
  /** The scan ended without an outcome: aborted, or the scanner failed with `error`. */
  | { t: 'failed'; id: number; error: string | null }
  | { t: 'waiting'; id: number; waiting: boolean }
  | { t: 'reveal'; id: number; credentialId: string };

/** Collects messages and sends them as one array on the next turn of the event loop. */
export function batchedSender<M>(send: (batch: M[]) => void): (message: M) => void {
  let batch: M[] = [];
  return (message) => {
    if (batch.push(message) > 1) return;
    setImmediate(() => {
      const out = batch;
      batch = [];
      send(out);
    });
  };
}
