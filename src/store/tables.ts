import type { Queryable } from './db';

/**
 * Every table that holds the gateway's data, parents before children (the order a copy inserts in), each
 * with its primary key (the order a copy reads in). A copy or checksum of the store covers these tables
 * and refuses a database with any other (see `checkTables`): a migration that adds a table must add it here.
 */
export const DATA_TABLES: readonly { name: string; key: readonly string[] }[] = [
  { name: 'credentials', key: ['id'] },
  { name: 'hosts', key: ['id'] },
  { name: 'host_scan_jobs', key: ['id'] },
  { name: 'host_scans', key: ['id'] },
  { name: 'host_snapshots', key: ['id'] },
  { name: 'inventory_names', key: ['id'] },
  { name: 'audit_records', key: ['id'] },
  { name: 'host_scan_batches', key: ['id'] },
  { name: 'host_scan_batch_jobs', key: ['batch_id', 'job_id'] },
  { name: 'scan_schedules', key: ['id'] },
  { name: 'scan_schedule_firings', key: ['schedule_id', 'slot'] },
  { name: 'gateway_users', key: ['id'] },
  { name: 'gateway_apps', key: ['id'] },
  { name: 'gateway_signing_keys', key: ['kid'] },
];

/** Bookkeeping tables: the migrations applied, and the database's identity (node id). */
export const META_TABLES = ['schema_migrations', 'gateway_meta'] as const;

export interface TableSum {
  rows: number;
  /** A digest of the table's rows, independent of their physical order. */
  checksum: string;
}

/** Fails naming any table the copier does not know, or any it knows that is missing. */
export async function checkTables(q: Queryable): Promise<void> {
  const rows = await q.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  );
  const present = new Set(rows.map((r) => r.name));
  const known = new Set<string>([...DATA_TABLES.map((t) => t.name), ...META_TABLES]);
  const unknown = [...present].filter((t) => !known.has(t)).sort();
  const missing = [...known].filter((t) => !present.has(t));
  if (unknown.length) throw new Error(`The store holds table(s) ${unknown.join(', ')} that backup and migrate-store do not know; add them to DATA_TABLES in src/store/tables.ts.`);
  if (missing.length) throw new Error(`The store lacks table(s) ${missing.join(', ')}; is it migrated?`);
}

/**
 * Rows and a checksum per data table. The checksum is the sum of each row's md5 (its first 60 bits), so it
 * needs no sort and no large string however big the table, and two stores agree whatever order their rows
 * sit in. Rows are rendered as text in UTC, so PGlite and PostgreSQL render a row alike. Run it inside a
 * transaction: `SET LOCAL` holds for that transaction only.
 */
export async function tableSums(q: Queryable): Promise<Record<string, TableSum>> {
  await q.query(`SET LOCAL TimeZone = 'UTC'`);
  const sums: Record<string, TableSum> = {};
  for (const { name } of DATA_TABLES) {
    const [row] = await q.query<{ rows: string; checksum: string }>(
      `SELECT count(*)::text AS rows, coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0)::text AS checksum FROM ${name} t`,
    );
    sums[name] = { rows: Number(row!.rows), checksum: row!.checksum };
  }
  return sums;
}

/** The migration versions applied, in order. */
export async function appliedVersions(q: Queryable): Promise<number[]> {
  const rows = await q.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  return rows.map((r) => r.version);
}

/** The names of tables whose sums differ between `a` and `b`. */
export function differingTables(a: Record<string, TableSum>, b: Record<string, TableSum>): string[] {
  return DATA_TABLES.map((t) => t.name).filter((n) => a[n]?.rows !== b[n]?.rows || a[n]?.checksum !== b[n]?.checksum);
}
