import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Db, Queryable } from './db';

/** The store's database port over a PGlite on this thread (the embedded store's worker thread). */
export function localDb(pg: PGlite): Db {
  const on = (q: PGlite | Transaction): Queryable => ({
    async query<T>(sql: string, params?: readonly unknown[]) {
      return (await q.query<T>(sql, params as unknown[] | undefined)).rows;
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  });
  return {
    ...on(pg),
    transaction: (fn) => pg.transaction((tx) => fn(on(tx))),
    async listen(channel, listener) {
      const stop = await pg.listen(channel, listener.onPayload);
      return () => stop();
    },
    async healthy() {
      return !pg.closed;
    },
    close: () => pg.close(),
  };
}
