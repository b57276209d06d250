import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';
import type { Queryable, Sql } from './db';
import { poolDb } from './pool-db';
import { createStores, type StoreSettings } from './stores';
import { takeSnapshot, type Snapshot } from './snapshot';

// The embedded database's thread. PGlite is PostgreSQL compiled to WebAssembly and runs synchronously on
// the thread that calls it; here, that is not the thread serving HTTP and probing hosts, so the two use
// both cores and do not stall each other. The main thread talks to it with the messages below: single
// statements and transactions for the few callers that use SQL directly (migrations, tests), and whole
// store operations (`call`), so that a transaction never waits on the main thread between statements.
// Every statement goes through one `pg` pool of one connection over the database (PGlite's node-postgres
// adapter): the pool queues callers, so a transaction has the database to itself, and the store's
// statements run prepared, planned once instead of on every call.

export type Request = { id: number } & (
  | { op: 'query'; sql: string; params?: readonly unknown[]; tx?: number }
  | { op: 'exec'; sql: string; tx?: number }
  | { op: 'begin' }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'stores'; nodeId: string; settings: StoreSettings }
  | ({ op: 'call' } & StoreCall)
  | { op: 'backup' }
  | { op: 'close' }
);

type Stores = ReturnType<typeof createStores>;

/** One call of a store method, typed from the store parts: a target, one of its methods, and that method's arguments. */
export type StoreCall = {
  [T in keyof Stores]: {
    [M in keyof Stores[T]]: Stores[T][M] extends (...args: infer A) => unknown ? { target: T; method: M; args: A } : never;
  }[keyof Stores[T]];
}[keyof Stores];

/** Replies carry the request's id; id 0 says the database is open (or why it is not). */
export type Reply = { id: number; value: unknown } | { id: number; error: { message: string; code?: string } };

export interface WorkerOptions {
  dataDir: string;
}

// PGlite runs PostgreSQL in single-user mode: no autovacuum worker keeps the planner's statistics fresh.
// Without them it takes growing tables for empty ones and joins by scanning them (a 21-job read went from
// 0.6 ms to 18 ms at 28,000 scans). A coarse ANALYZE now and then keeps plans right; it samples, so it
// stays cheap as the tables grow (about 0.1 s at 28,000 jobs): soon after start, when a fresh database
// fills fastest, then every five minutes.
const ANALYZE_AT_MS = [5_000, 60_000];
const ANALYZE_EVERY_MS = 5 * 60_000;
const ROLLBACK = Symbol('rollback');

const port = parentPort!;
const transactions = new Map<number, { tx: Queryable; finish: (commit: boolean) => void; done: Promise<void> }>();
let nextTx = 1;
let stores: Stores | null = null;

async function main(): Promise<void> {
  let db: Database;
  try {
    db = await open((workerData as WorkerOptions).dataDir);
  } catch (err) {
    port.postMessage(failure(0, err));
    return;
  }
  const timers = [
    ...ANALYZE_AT_MS.map((ms) => setTimeout(() => analyze(db), ms)),
    setInterval(() => analyze(db), ANALYZE_EVERY_MS),
  ];
  port.on('message', (req: Request) => {
    run(db, req).then(
      (value) => port.postMessage({ id: req.id, value } satisfies Reply),
      (err) => port.postMessage(failure(req.id, err)),
    );
    if (req.op === 'close') timers.forEach(clearTimeout);
  });
  port.postMessage({ id: 0, value: null } satisfies Reply);
}

type Database = Sql & { backup(): Promise<Snapshot>; close(): Promise<void> };

/** The database: a pool of one `pg` connection over PGlite. */
async function open(dataDir: string): Promise<Database> {
  const pglite = await PGlite.create(dataDir);
  // No idle timeout: the one connection is the database's only session and its prepared statements.
  const pool = new pg.Pool({ ...createPgConfig(pglite), max: 1, idleTimeoutMillis: 0 });
  return {
    ...poolDb(pool, { prepare: true }),
    backup: () => takeSnapshot(pool, pglite),
    async close() {
      await pool.end();
      await pglite.close();
    },
  };
}

async function run(db: Database, req: Request): Promise<unknown> {
  switch (req.op) {
    case 'query':
      return on(db, req.tx).query(req.sql, req.params);
    case 'exec':
      await on(db, req.tx).exec(req.sql);
      return null;
    case 'begin':
      return begin(db);
    case 'end': {
      const t = transactions.get(req.tx);
      if (!t) throw new Error(`No open transaction ${req.tx}.`);
      transactions.delete(req.tx);
      t.finish(req.commit);
      await t.done;
      return null;
    }
    case 'stores':
      stores = createStores(db, req.nodeId, req.settings);
      return null;
    case 'call': {
      // The union is checked where calls are made; here any member is dispatched the same way.
      const method = (stores?.[req.target] as Record<string, unknown> | undefined)?.[req.method as string];
      if (typeof method !== 'function') throw new Error(`No store method ${req.target}.${String(req.method)}.`);
      return await (method as (...args: unknown[]) => unknown)(...(req.args as unknown[]));
    }
    case 'backup':
      return db.backup();
    case 'close':
      await db.close();
      return null;
  }
}

const on = (db: Sql, tx: number | undefined): Queryable => {
  if (tx === undefined) return db;
  const t = transactions.get(tx);
  if (!t) throw new Error(`No open transaction ${tx}.`);
  return t.tx;
};

/** Open a transaction that stays open across messages until `end`; resolves to its number once begun. */
function begin(db: Sql): Promise<number> {
  return new Promise((begun, failed) => {
    const id = nextTx++;
    let started = false;
    const entry = {} as { tx: Queryable; finish: (commit: boolean) => void; done: Promise<void> };
    entry.done = db
      .transaction(async (tx) => {
        started = true;
        entry.tx = tx;
        const commit = await new Promise<boolean>((finish) => {
          entry.finish = finish;
          transactions.set(id, entry);
          begun(id);
        });
        if (!commit) throw ROLLBACK;
      })
      .catch((err: unknown) => {
        if (err === ROLLBACK) return;
        if (!started) failed(err);
        throw err;
      });
    entry.done.catch(() => {}); // a failed COMMIT is reported to `end`, which awaits `done`
  });
}

function analyze(db: Sql): void {
  void db.exec('SET default_statistics_target = 20; ANALYZE; RESET default_statistics_target').catch(() => {});
}

function failure(id: number, err: unknown): Reply {
  const e = err as { message?: unknown; code?: unknown };
  return { id, error: { message: String(e?.message ?? err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) } };
}

void main();
