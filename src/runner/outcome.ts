import { ActionFailureReason, ActionStatus } from '../model';
import type { ScanOutcome } from '../scanner';
import type { ScanResult } from '../store';

/** Why a scan's signal was aborted. */
export type AbortReason = 'cancel' | 'timeout' | 'lease-lost' | 'shutdown';

/** What to do with a scan that ended: record a result, hand the lease back, or let it go. */
export type Disposition =
  | { kind: 'record'; result: ScanResult; unexpected?: unknown }
  | { kind: 'release' }
  | { kind: 'drop' };

/**
 * The one decision from how a scan ended to what the store hears. A lost lease belongs to someone else
 * now (drop); a shutdown hands the scan back without counting the attempt (release); otherwise the
 * outcome is recorded — when the scanner gave none, the abort reason says what happened, and a scanner
 * that failed without an abort is a system error (`unexpected` carries the error to log).
 */
export function dispose(ended: { outcome?: ScanOutcome; error?: unknown; abort: AbortReason | null; timeoutMs: number }): Disposition {
  if (ended.abort === 'lease-lost') return { kind: 'drop' };
  if (ended.abort === 'shutdown') return { kind: 'release' };
  if (ended.outcome) return { kind: 'record', result: resultOf(ended.outcome) };
  const base = { hostConnected: false, ipAddress: null };
  switch (ended.abort) {
    case 'cancel':
      return { kind: 'record', result: cancelled('Cancelled while running') };
    case 'timeout':
      return { kind: 'record', result: { ...base, status: ActionStatus.Failed, description: `Timed out after ${ended.timeoutMs} ms`, failureReason: ActionFailureReason.ActionTimeout } };
    default: {
      const message = ended.error instanceof Error ? ended.error.message : String(ended.error);
      return {
        kind: 'record',
        unexpected: ended.error,
        result: { ...base, status: ActionStatus.Failed, description: `Scanner error: ${message}`.slice(0, 300), failureReason: ActionFailureReason.SystemError },
      };
    }
  }
}

/** The result of a scan cancelled before it ended. */
export const cancelled = (description: string): ScanResult => ({
  hostConnected: false,
  ipAddress: null,
  status: ActionStatus.Cancelled,
  description,
  failureReason: ActionFailureReason.NoError,
});

function resultOf(outcome: ScanOutcome): ScanResult {
  const partial = outcome.ok && (outcome.inventory?.notes.length ?? 0) > 0;
  return {
    status: !outcome.ok ? ActionStatus.Failed : partial ? ActionStatus.CompletedWithErrors : ActionStatus.Complete,
    description: outcome.description,
    failureReason: outcome.ok ? ActionFailureReason.NoError : (outcome.failureReason ?? ActionFailureReason.UnknownError),
    ipAddress: outcome.ipAddress,
    os: outcome.os,
    version: outcome.version,
    hostConnected: outcome.hostConnected,
    ...(outcome.hostKey ? { hostKey: outcome.hostKey } : {}),
    ...(outcome.inventory ? { inventory: outcome.inventory } : {}),
  };
}

/** The abort reason of a signal, or null while it was not aborted. */
export const abortReasonOf = (signal: AbortSignal): AbortReason | null => (signal.aborted ? (signal.reason as AbortReason) : null);
