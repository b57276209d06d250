import { requireRole, type Principal } from './auth';
import { badInput } from './errors';
import type { AuditRecord, Store } from './store';
import { hasControlCharacters, intParam } from './validate';

export interface AuditFilter {
  subject?: unknown;
  action?: unknown;
  since?: unknown;
  until?: unknown;
}

/** Reading the audit trail: Admin only. Records are written by the services, in their changes' transactions. */
export class AuditService {
  constructor(private readonly o: { store: Store }) {}

  /** Newest first, `first` (≤ 500) at a time after the cursor `after` (a record id). */
  async list(principal: Principal, input: AuditFilter & { first?: unknown; after?: unknown }): Promise<{ items: AuditRecord[]; hasMore: boolean }> {
    requireRole(principal, ['Admin']);
    const first = intParam(input.first, 'first', 50, 1, 500);
    const after = input.after == null ? null : String(input.after);
    if (after !== null && !/^\d{1,18}$/.test(after)) throw badInput({ after: ['Not a cursor returned by this API.'] });
    const items = await this.o.store.audit.list({ ...filterOf(input), limit: first + 1, beforeId: after });
    return { items: items.slice(0, first), hasMore: items.length > first };
  }

  /** Every matching record, newest first, in pages the caller writes out as it goes (NDJSON export). */
  async *export(principal: Principal, input: AuditFilter): AsyncGenerator<AuditRecord[]> {
    requireRole(principal, ['Admin']);
    const filter = filterOf(input);
    let beforeId: string | null = null;
    for (;;) {
      const page = await this.o.store.audit.list({ ...filter, limit: 1000, beforeId });
      if (page.length === 0) return;
      yield page;
      beforeId = page.at(-1)!.id;
    }
  }
}

function filterOf(input: AuditFilter) {
  const text = (value: unknown, key: string) => {
    if (value == null || value === '') return null;
    if (typeof value !== 'string' || value.length > 255 || hasControlCharacters(value)) throw badInput({ [key]: ['Expected text of at most 255 characters.'] });
    return value;
  };
  const date = (value: unknown, key: string) => {
    if (value == null || value === '') return null;
    const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw badInput({ [key]: ['Expected an ISO 8601 date and time.'] });
    return d;
  };
  return { subject: text(input.subject, 'subject'), action: text(input.action, 'action'), since: date(input.since, 'since'), until: date(input.until, 'until') };
}
