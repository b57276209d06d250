import type { AuditEntry } from '../audit';
import type { Queryable, Sql } from './db';

/** A stored audit record. */
export interface AuditRecord extends AuditEntry {
  id: string;
  at: Date;
}

export interface AuditQuery {
  limit: number;
  /** Records older than this id (paging, newest first). */
  beforeId?: string | null;
  subject?: string | null;
  action?: string | null;
  since?: Date | null;
  until?: Date | null;
}

/** Write audit entries inside the caller's transaction: the change and its record commit together, or neither. */
export async function appendAudit(tx: Queryable, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const col = <T>(pick: (e: AuditEntry) => T) => entries.map(pick);
  await tx.query(
    `INSERT INTO audit_records (action, subject, roles, address, trace_id, target, details)
     SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::jsonb[])`,
    [col((e) => e.action), col((e) => e.subject), col((e) => JSON.stringify(e.roles)), col((e) => e.address), col((e) => e.traceId),
      col((e) => e.target), col((e) => JSON.stringify(e.details))],
  );
}

/** The audit trail: append (alone, for changes with no transaction of their own), read, prune. */
export function createAuditStore(db: Sql) {
  return {
    append: (entries: readonly AuditEntry[]) => appendAudit(db, entries),

    /** Newest first. */
    async list(query: AuditQuery): Promise<AuditRecord[]> {
      const rows = await db.query<{ id: string; at: Date; action: string; subject: string | null; roles: string[]; address: string | null; trace_id: string | null; target: string | null; details: Record<string, unknown> }>(
        `SELECT id::text AS id, at, action, subject, roles, address, trace_id, target, details FROM audit_records
         WHERE ($1::bigint IS NULL OR id < $1::bigint) AND ($2::text IS NULL OR subject = $2) AND ($3::text IS NULL OR action = $3)
           AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5)
         ORDER BY id DESC LIMIT $6`,
        [query.beforeId ?? null, query.subject ?? null, query.action ?? null, query.since ?? null, query.until ?? null, query.limit],
      );
      return rows.map((r) => ({ id: r.id, at: r.at, action: r.action, subject: r.subject, roles: r.roles, address: r.address, traceId: r.trace_id, target: r.target, details: r.details }));
    },

    /** Remove up to `batch` records older than `before`; returns how many went (call again while it is `batch`). */
    async prune(before: Date, batch: number): Promise<number> {
      const rows = await db.query(
        `DELETE FROM audit_records WHERE id IN (SELECT id FROM audit_records WHERE at < $1 ORDER BY id LIMIT $2) RETURNING id`,
        [before, batch],
      );
      return rows.length;
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
