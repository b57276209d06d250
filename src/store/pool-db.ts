import { createHash } from 'node:crypto';
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

// PostgreSQL aborted the transaction to break a deadlock with another: it left nothing, and the same
// transaction sent again succeeds, so callers treat it as they treat an outage (the runner sends the write again).
const DEADLOCK = '40P01';

const translate = (err: unknown): never => {
  if (isConnectionError(err)) throw unavailable('The database is unreachable; try again shortly.');
  if ((err as { code?: string } | null)?.code === DEADLOCK) throw unavailable('The database aborted this transaction to break a deadlock with another; try again.');
  throw err;
};

// A statement this connection prepared is missing on the server, or one it has not is there already: the
// connection reaches a different server session from one transaction to the next, as through a
// transaction pooler.
const MOVED_SESSION_CODES = new Set(['26000', '42P05']);

const movedSession = (err: unknown): Error =>
  new Error(
    `PostgreSQL's prepared statements do not follow this connection (${(err as Error).message}): DATABASE_URL goes through a ` +
      'transaction pooler that does not keep them per client (PgBouncer before 1.21, or without max_prepared_statements). ' +
      'Turn them off with DATABASE_PREPARED_STATEMENTS=false.',
  );

// The store's statements are a fixed set of texts; a bound keeps a caller's ad-hoc SQL from growing it.
const MAX_PREPARED = 500;

export interface PoolDbOptions {
  /**
   * Run parameterized statements as named prepared statements, so each is planned once per connection
   * instead of on every call. On the embedded store planning is a large part of a short statement's cost
   * (reading 16 jobs: 1.4 ms planned each time, 0.7 ms prepared).
   */
  prepare: boolean;
  /**
   * The pool's clients pipeline (pg's `pipeline` option): a transaction's statements that do not wait for
   * each other's answers go out together, and BEGIN goes out with the first of them. Otherwise a
   * transaction's statements are sent one after another.
   */
  pipeline?: boolean;
}

/** Queries and transactions over a `pg` Pool (PostgreSQL's, or the one over the embedded database). */
export function poolDb(pool: pg.Pool, options: PoolDbOptions): Sql {
  // Named after their text: a server session that another client prepared a name in holds that same text,
  // so no statement can run under another one's name.
  const names = new Map<string, string>();
  const nameOf = (sql: string): string | undefined => {
    let name = names.get(sql);
    if (!name && names.size < MAX_PREPARED) names.set(sql, (name = `s${createHash('sha256').update(sql).digest('base64url').slice(0, 24)}`));
    return name;
  };
  const wrap = (q: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(sql: string, params?: readonly unknown[]) {
      const values = params as unknown[] | undefined;
      const name = options.prepare && values?.length ? nameOf(sql) : undefined;
      try {
        return (await (name ? q.query({ name, text: sql, values }) : q.query(sql, values))).rows as T[];
      } catch (err) {
        if (name && MOVED_SESSION_CODES.has((err as { code?: string }).code ?? '')) throw movedSession(err);
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
      const tx = inFlight(wrap(client), !options.pipeline);
      // Pipelined, BEGIN shares the first statement's round trip (and its failure fails that statement too).
      const begun = client.query('BEGIN');
      begun.catch(() => {});
      try {
        if (!options.pipeline) await begun;
        const result = await fn(tx);
        await begun;
        await tx.settled();
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await begun.catch((e: unknown) => (lost ??= isConnectionError(e) ? e : null));
        if (isConnectionError(err)) lost ??= err;
        // A statement still under way when another failed ends before ROLLBACK, or it would run after it.
        await tx.settled();
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

/**
 * A transaction's statements, tracked until they settle. `serial` sends each after the one before has
 * answered (a client that does not pipeline would otherwise queue them itself, which pg deprecates).
 */
function inFlight(q: Queryable, serial: boolean): Queryable & { settled(): Promise<unknown> } {
  const pending = new Set<Promise<unknown>>();
  let tail: Promise<unknown> = Promise.resolve();
  const track = <T>(send: () => Promise<T>): Promise<T> => {
    const p = serial ? tail.then(send, send) : send();
    if (serial) tail = p;
    pending.add(p);
    p.then(() => pending.delete(p), () => pending.delete(p));
    return p;
  };
  return {
    query: <T>(sql: string, params?: readonly unknown[]) => track(() => q.query<T>(sql, params)),
    exec: (sql: string) => track(() => q.exec(sql)),
    settled: () => Promise.allSettled([...pending]),
  };
}
