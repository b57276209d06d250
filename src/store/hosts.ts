import { randomUUID } from 'node:crypto';
import type { Host, HostInput } from '../model';
import type { AuditEntry } from '../audit';
import { appendAudit } from './audit';
import type { Queryable, Sql } from './db';
import { HOST_COLUMNS, toHost, type HostRow } from './rows';

export interface HostListQuery {
  limit: number;
  /** Hosts after this one in (lower(name), id) order. */
  after?: { name: string; id: string } | null;
  search?: string | null;
}

const RACED = Symbol('raced');

/** `changed`: the hosts this call inserted or altered (an upsert that repeats a host's values alters nothing). */
export type UpsertResult = { hosts: Host[]; changed: Host[]; conflicts?: undefined } | { hosts?: undefined; changed?: undefined; conflicts: Map<number, string> };

export interface UpsertOptions {
  /** Write the audit entry only when some host changed (a start-up seed that repeats what is stored is no change). */
  auditOnlyChanges?: boolean;
}

/** The host inventory. */
export function createHostStore(db: Sql) {
  /** One attempt of `upsert`: RACED when a concurrent writer took a name first. */
  const upsertOnce = async (inputs: readonly HostInput[], audit: AuditEntry | undefined, options: UpsertOptions): Promise<UpsertResult | typeof RACED> =>
    db.transaction(async (tx) => {
      const hosts: Host[] = [];
      const changed: Host[] = [];
      const conflicts = new Map<number, string>();
      for (const [index, input] of inputs.entries()) {
        if (input.id) {
          const byName = await tx.query<{ id: string }>('SELECT id FROM hosts WHERE lower(name) = lower($1)', [input.name]);
          if (byName[0] && byName[0].id !== input.id) {
            conflicts.set(index, `The name '${input.name}' belongs to host ${byName[0].id}.`);
            continue;
          }
        }
        const one = await upsertOne(tx, input);
        hosts.push(one.host);
        if (one.changed) changed.push(one.host);
      }
      if (conflicts.size > 0) throw new UpsertConflict(conflicts);
      if (audit && options.auditOnlyChanges) {
        if (changed.length > 0) await appendAudit(tx, [hostsAudit(audit, changed)]);
      } else if (audit) await appendAudit(tx, [hostsAudit(audit, hosts)]);
      return { hosts, changed };
    }).catch((err: unknown) => {
      if (err instanceof UpsertConflict) return { conflicts: err.conflicts };
      // Another writer took one of these names with another id between our check and our insert.
      if ((err as { code?: string }).code === '23505') return RACED;
      // A credential named here was removed meanwhile.
      if ((err as { code?: string }).code === '23503') return { conflicts: new Map([[0, 'A credential named here no longer exists; try again.']]) };
      throw err;
    });

  return {
    /**
     * Insert or update hosts in one transaction: by id when given, else by name (case-insensitive).
     * Scan results (os, version, last scan) are kept. A name taken by another host is a conflict,
     * reported per input index, and nothing is written.
     */
    async upsert(inputs: readonly HostInput[], audit?: AuditEntry, options: UpsertOptions = {}): Promise<UpsertResult> {
      // A name another writer inserted between our check and our insert (two instances seeding one
      // HOSTS_FILE at once) is a unique violation on the name, which ON CONFLICT (id) does not arbitrate:
      // once that writer committed, the same upsert finds its row and agrees with it.
      for (let attempt = 1; ; attempt++) {
        const result = await upsertOnce(inputs, audit, options);
        if (result !== RACED) return result;
        if (attempt === 3) return { conflicts: new Map([[0, 'A host name is taken by another host; try again.']]) };
      }
    },

    async get(id: string): Promise<Host | null> {
      const rows = await db.query<HostRow>(`SELECT ${HOST_COLUMNS} FROM hosts h WHERE h.id = $1`, [id]);
      return rows[0] ? toHost(rows[0]) : null;
    },

    async list(query: HostListQuery): Promise<Host[]> {
      const pattern = query.search ? `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
      const rows = await db.query<HostRow>(
        `SELECT ${HOST_COLUMNS} FROM hosts h
         WHERE ($1::text IS NULL OR h.name ILIKE $1 OR h.dns_host_name ILIKE $1 OR h.ip_address ILIKE $1)
           AND ($2::text IS NULL OR (lower(h.name), h.id) > (lower($2), $3::uuid))
         ORDER BY lower(h.name), h.id LIMIT $4`,
        [pattern, query.after?.name ?? null, query.after?.id ?? null, query.limit],
      );
      return rows.map(toHost);
    },

    /**
     * Trust the key the host presented when it is the one named: `accepted`, or why not (`unknown` host,
     * or the `presented` key, null when the host presented none that is untrusted).
     */
    async acceptHostKey(id: string, fingerprint: string, audit?: AuditEntry): Promise<{ accepted: Host } | { unknown: true } | { presented: string | null }> {
      return db.transaction(async (tx) => {
        const rows = await tx.query<HostRow>(
          `UPDATE hosts h SET ssh_host_key = h.ssh_host_key_presented, ssh_host_key_algorithm = NULL, ssh_host_key_presented = NULL, modified_at = now()
           WHERE h.id = $1 AND h.ssh_host_key_presented = $2 RETURNING ${HOST_COLUMNS}`,
          [id, fingerprint],
        );
        if (rows[0]) {
          if (audit) await appendAudit(tx, [audit]);
          return { accepted: toHost(rows[0]) };
        }
        const [host] = await tx.query<{ presented: string | null }>('SELECT ssh_host_key_presented AS presented FROM hosts WHERE id = $1', [id]);
        return host ? { presented: host.presented } : { unknown: true };
      });
    },

    /** Remove a host; its past scans stay with a null host id. */
    async remove(id: string, audit?: AuditEntry): Promise<boolean> {
      return db.transaction(async (tx) => {
        const rows = await tx.query<{ name: string }>('DELETE FROM hosts WHERE id = $1 RETURNING name', [id]);
        if (rows.length > 0 && audit) await appendAudit(tx, [{ ...audit, details: { ...audit.details, name: rows[0]!.name } }]);
        return rows.length > 0;
      });
    },
  };
}

export type HostStore = ReturnType<typeof createHostStore>;

class UpsertConflict extends Error {
  constructor(readonly conflicts: Map<number, string>) {
    super('host name conflict');
  }
}

const hostsAudit = (audit: AuditEntry, hosts: readonly Host[]): AuditEntry => ({
  ...audit,
  target: hosts.map((h) => h.id).join(',').slice(0, 1000),
  details: { ...audit.details, names: hosts.slice(0, 20).map((h) => h.name), count: hosts.length },
});

// By id, or else by name: ON CONFLICT on the name index makes two instances seeding the same
// HOSTS_FILE at once agree on one row instead of one of them failing. A row whose values would not
// change is left alone (its modified_at too), and read back.
async function upsertOne(q: Queryable, input: HostInput): Promise<{ host: Host; changed: boolean }> {
  const target = input.id ? '(id)' : '(lower(name))';
  // Login and trust settings left out of the input keep what the host has (the defaults for a new host).
  const rows = await q.query<HostRow>(
    `INSERT INTO hosts AS h (id, name, dns_host_name, ip_address, ssh_port, win_rm_port, credential_id, ssh_trust, accept_key_on_first_contact)
     VALUES ($1, $2, $3, $4, $5, $6, $8, coalesce($9, 2), coalesce($10, true))
     ON CONFLICT ${target} DO UPDATE SET name = EXCLUDED.name, dns_host_name = EXCLUDED.dns_host_name,
       ip_address = EXCLUDED.ip_address, ssh_port = EXCLUDED.ssh_port, win_rm_port = EXCLUDED.win_rm_port,
       credential_id = CASE WHEN $7 THEN EXCLUDED.credential_id ELSE h.credential_id END,
       ssh_trust = coalesce($9, h.ssh_trust), accept_key_on_first_contact = coalesce($10, h.accept_key_on_first_contact),
       modified_at = now()
     WHERE (h.name, h.dns_host_name, h.ip_address, h.ssh_port, h.win_rm_port, h.credential_id, h.ssh_trust, h.accept_key_on_first_contact)
       IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.dns_host_name, EXCLUDED.ip_address, EXCLUDED.ssh_port, EXCLUDED.win_rm_port,
         CASE WHEN $7 THEN EXCLUDED.credential_id ELSE h.credential_id END, coalesce($9, h.ssh_trust), coalesce($10, h.accept_key_on_first_contact))
     RETURNING ${HOST_COLUMNS}`,
    [input.id ?? randomUUID(), input.name, input.dnsHostName ?? null, input.ipAddress ?? null, input.sshPort ?? null, input.winRmPort ?? null,
      input.credentialId !== undefined, input.credentialId ?? null, input.sshTrust ?? null, input.acceptKeyOnFirstContact ?? null],
  );
  if (rows[0]) return { host: toHost(rows[0]), changed: true };
  const same = await q.query<HostRow>(
    `SELECT ${HOST_COLUMNS} FROM hosts h WHERE ${input.id ? 'h.id = $1' : 'lower(h.name) = lower($1)'}`,
    [input.id ?? input.name],
  );
  return { host: toHost(same[0]!), changed: false };
}
