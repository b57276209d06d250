import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import type { Queryable } from './db';
import { migrate } from './migrations';
import { openPglite } from './pglite';
import { openPostgres } from './postgres';
import { DATA_TABLES, appliedVersions, checkTables, differingTables, tableSums, type TableSum } from './tables';

export interface CopyReport {
  /** Rows and checksum per table, the same in both stores once copied. */
  tables: Record<string, TableSum>;
  /** True when the target already held exactly this store (a re-run): nothing was written. */
  alreadyCopied: boolean;
}

/**
 * Copy the embedded store in `dataDir` into the PostgreSQL database at `url`: every data table (see
 * tables.ts), in batches, inside one transaction on the target, verified by rows and checksums per table
 * before it commits. The target is migrated to the same version first. Re-running it finds the target
 * equal and writes nothing; a target holding anything else is refused untouched. The embedded store must
 * not be in use (its directory lock refuses a running gateway).
 */
export async function copyStoreToPostgres(
  dataDir: string,
  url: string,
  options: { batchRows?: number; progress?: (table: string, rows: number) => void } = {},
): Promise<CopyReport> {
  const batchRows = options.batchRows ?? 5_000;
  // Opening would create an empty store: a directory without one is an operator's mistake to report.
  if (!existsSync(join(resolve(dataDir), 'pgdata', 'PG_VERSION'))) throw new Error(`DATA_DIR ${resolve(dataDir)} holds no embedded store.`);
  const source = await openPglite(dataDir, pino({ level: 'silent' }));
  try {
    // Each statement runs once or a few times here, and the target may sit behind a transaction pooler.
    const target = await openPostgres(url, { poolSize: 1, prepare: false });
    try {
      // Both at this gateway's version: the one a gateway starting on either would bring them to.
      await migrate(source);
      // Before the target is touched: a table this copier would leave behind is refused up front.
      await checkTables(source);
      await migrate(target);
      return await source.transaction((from) =>
        target.transaction(async (to) => {
          // A second copy into the same database waits for the first to commit, then finds it equal.
          await to.query(`SELECT pg_advisory_xact_lock(hashtext('scan-gateway:copy-store'))`);
          return copy(from, to, { batchRows, progress: options.progress ?? (() => {}) });
        }),
      );
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

async function copy(from: Queryable, to: Queryable, o: { batchRows: number; progress: (table: string, rows: number) => void }): Promise<CopyReport> {
  await checkTables(from);
  await checkTables(to);
  const [fromVersions, toVersions] = [await appliedVersions(from), await appliedVersions(to)];
  if (fromVersions.join() !== toVersions.join()) throw new Error(`The target is at migrations ${toVersions.join(', ')}, the store at ${fromVersions.join(', ')}.`);
  const sums = await tableSums(from);
  const before = await tableSums(to);
  const differ = differingTables(sums, before);
  if (differ.length === 0) {
    await copyMeta(from, to);
    return { tables: sums, alreadyCopied: true };
  }
  const occupied = Object.entries(before).filter(([, s]) => s.rows > 0).map(([name]) => name);
  if (occupied.length) {
    throw new Error(`The target database holds other data (in ${occupied.join(', ')}); copy into an empty database, or one this store was copied into before. Nothing was changed.`);
  }
  for (const table of DATA_TABLES) await copyTable(from, to, table, o);
  await copyMeta(from, to);
  const after = await tableSums(to);
  const wrong = differingTables(sums, after);
  if (wrong.length) throw new Error(`The copy does not match the store in table(s) ${wrong.join(', ')}; nothing was committed.`);
  return { tables: after, alreadyCopied: false };
}

/**
 * Page through one table in key order, each page read and written as one JSON array: the rows never
 * become JavaScript values, so every type (timestamps to the microsecond, bigints, jsonb) arrives as
 * PostgreSQL wrote it, and any column a later migration adds comes along.
 */
async function copyTable(from: Queryable, to: Queryable, table: { name: string; key: readonly string[] }, o: { batchRows: number; progress: (table: string, rows: number) => void }): Promise<void> {
  const { name } = table;
  const key = table.key.join(', ');
  const identity = await to.query<{ column: string }>(
    `SELECT column_name AS column FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'`,
    [name],
  );
  let last: string | null = null;
  let copied = 0;
  for (;;) {
    const after: string = last === null ? '' : `WHERE (${key}) > (SELECT ${key} FROM json_populate_record(null::${name}, $2::json))`;
    const [page]: ({ rows: string | null; last: string | null; n: number } | undefined)[] = await from.query<{ rows: string | null; last: string | null; n: number }>(
      `WITH page AS (SELECT json_agg(t ORDER BY ${key}) AS a FROM (SELECT * FROM ${name} ${after} ORDER BY ${key} LIMIT $1) t)
       SELECT a::text AS rows, (a -> -1)::text AS last, coalesce(json_array_length(a), 0) AS n FROM page`,
      last === null ? [o.batchRows] : [o.batchRows, last],
    );
    if (!page || page.n === 0) break;
    await to.query(`INSERT INTO ${name} ${identity.length ? 'OVERRIDING SYSTEM VALUE' : ''} SELECT * FROM json_populate_recordset(null::${name}, $1::json)`, [page.rows]);
    copied += page.n;
    o.progress(name, copied);
    last = page.last;
    if (page.n < o.batchRows) break;
  }
  // Identity columns continue after the copied values, as they would have in the store.
  for (const { column } of identity) {
    await to.query(`SELECT setval(pg_get_serial_sequence($1, $2), (SELECT coalesce(max(${column}), 0) + 1 FROM ${name}), false)`, [name, column]);
  }
}

/** The store's identity (its node id, which jobs carry) moves with its data. */
async function copyMeta(from: Queryable, to: Queryable): Promise<void> {
  const rows = await from.query<{ key: string; value: string }>('SELECT key, value FROM gateway_meta ORDER BY key');
  for (const { key, value } of rows) {
    await to.query(
      'INSERT INTO gateway_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE gateway_meta.value <> EXCLUDED.value',
      [key, value],
    );
  }
}
