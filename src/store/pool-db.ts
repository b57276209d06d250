import type pg from 'pg';
import { unavailable } from '../errors';
import type { Queryable, Sql } from './db';

// Connection-level failures: the database is unreachable, not the query wrong.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300',
]);

/** True for errors that mean "PostgreSQL is not reachable right now". */
function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && UNAVAILABLE_CODES.has(code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(err.message);
}

const translate = (err: unknown): never => {
  throw isConnectionError(err) ? unavailable('The database is unreachable; try again shortly.') : err;
};

// The store's statements are a fixed set of texts; a bound keeps a caller's ad-hoc SQL from growing it.
const MAX_PREPARED = 500;

export interface PoolDbOptions {
  /**
   * Run parameterized statements as named prepared statements, so each is planned once per connection
   * instead of on every call. On the embedded store planning is a large part of a short statement's cost
   * (reading 16 jobs: 1.4 ms planned each time, 0.7 ms prepared).
   */
  prepare: boolean;
}

/** Queries and transactions over a `pg` Pool (PostgreSQL's, or the one over the embedded database). */
export function poolDb(pool: pg.Pool, options: PoolDbOptions): Sql {
  const names = new Map<string, string>();
  const nameOf = (sql: string): string | undefined => {
    let name = names.get(sql);
    if (!name && names.size < MAX_PREPARED) names.set(sql, (name = `s${names.size + 1}`));
    return name;
  };
  const wrap = (q: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(sql: string, params?: readonly unknown[]) {
      const values = params as unknown[] | undefined;
      const name = options.prepare && values?.length ? nameOf(sql) : undefined;
      try {
        return (await (name ? q.query({ name, text: sql, values }) : q.query(sql, values))).rows as T[];
      } catch (err) {
        return translate(err);
      }
    },
    async exec(sql: string) {
      try {
        await q.query(sql);
      } catch (err) {
        translate(err);
      }
    },
  });
  return {
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect().catch(translate);
      // While checked out the pool does not listen for this client's errors; a connection lost
      // between statements would otherwise be an uncaught 'error' event.
      let lost: unknown = null;
      const onError = (err: Error) => (lost = err);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (isConnectionError(err)) lost ??= err;
        await client.query('ROLLBACK').catch(() => {});
        return translate(lost ?? err);
      } finally {
        client.off('error', onError);
        // A client whose connection failed is destroyed, not handed to the next caller.
        client.release((lost as Error | null) ?? undefined);
      }
    },
  };
}
