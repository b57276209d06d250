import type { Principal } from './auth';

/**
 * Who asks, as the service sees it: the token's principal and, from the edge the request came through,
 * the client's address and the request's trace id (the ones its logs and ProblemDetails carry).
 */
export interface Caller extends Principal {
  readonly address?: string | null;
  readonly traceId?: string | null;
}

/** One change, as the audit trail keeps it. `details` says what changed and never holds a secret. */
export interface AuditEntry {
  action: string;
  subject: string | null;
  roles: string[];
  address: string | null;
  traceId: string | null;
  /** The id (or ids, comma-separated and cut short) of what changed. */
  target: string | null;
  details: Record<string, unknown>;
}

/** An audit entry for a change the caller makes. */
export function auditEntry(caller: Caller, action: string, target: string | readonly string[] | null, details: Record<string, unknown> = {}): AuditEntry {
  const ids = target === null ? null : typeof target === 'string' ? target : target.join(',');
  return {
    action,
    subject: caller.subject,
    roles: [...caller.roles],
    address: caller.address ?? null,
    traceId: caller.traceId ?? null,
    target: ids && ids.length > 1000 ? `${ids.slice(0, 1000)}…` : ids,
    details,
  };
}

/** An audit entry for a change the gateway makes itself (`system:…` as the subject; no roles, address or trace). */
export function systemAuditEntry(subject: `system:${string}`, action: string, details: Record<string, unknown> = {}): AuditEntry {
  return { action, subject, roles: [], address: null, traceId: null, target: null, details };
}
