import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { poolDb } from '../src/store/pool-db';
import type { Sql } from '../src/store/db';
import { createDatabase, postgresAdminUrl } from './support/postgres';

// poolDb's transactions over a real PostgreSQL, with the client pipelining (as the gateway runs it) and
// without (as the embedded store's pool runs): statements a transaction sends together must keep their
// order, and none may run outside the transaction when one of them fails.
describe.skipIf(!postgresAdminUrl())('poolDb transactions', () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  beforeAll(async () => {
    db = await createDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await client.end();
  });
  afterAll(async () => {
    await db.drop();
  });

  for (const pipeline of [true, false]) {
    describe(pipeline ? 'pipelined' : 'one statement at a time', () => {
      let pool: pg.Pool;
      let sql: Sql;
      beforeAll(() => {
        pool = new pg.Pool({ connectionString: db.url, max: 2, pipeline });
        sql = poolDb(pool, { prepare: false, pipeline });
      });
      afterAll(async () => {
        await pool.end();
      });
      const base = pipeline ? 100 : 200;

      it('runs statements sent together in the order sent, inside the transaction', async () => {
        let seen: unknown;
        await expect(sql.transaction(async (tx) => {
          [, seen] = await Promise.all([
            tx.query('INSERT INTO t VALUES ($1, $2)', [base, 'sent first']),
            tx.query<{ v: string }>('SELECT v FROM t WHERE id = $1', [base]),
          ]);
          throw new Error('roll back');
        })).rejects.toThrow('roll back');
        expect(seen).toEqual([{ v: 'sent first' }]);
        // Rolled back with the transaction: the first statement did not run before BEGIN.
        expect(await sql.query('SELECT id FROM t WHERE id = $1', [base])).toEqual([]);
      });

      it('commits nothing when one of them fails, not even statements sent after it', async () => {
        await expect(sql.transaction((tx) => Promise.all([
          tx.query('INSERT INTO t VALUES ($1, $2)', [base + 1, 'before']),
          tx.query('SELECT 1 / 0'),
          tx.query('INSERT INTO t VALUES ($1, $2)', [base + 2, 'after']),
          tx.query('INSERT INTO t VALUES ($1, $2)', [base + 3, 'after that']),
        ]))).rejects.toThrow(/division by zero/);
        expect(await sql.query('SELECT id FROM t WHERE id BETWEEN $1 AND $2', [base + 1, base + 3])).toEqual([]);
        // The connection went back to the pool clean: a new transaction commits.
        await sql.transaction((tx) => tx.query('INSERT INTO t VALUES ($1, $2)', [base + 4, 'next']));
        expect(await sql.query('SELECT v FROM t WHERE id = $1', [base + 4])).toEqual([{ v: 'next' }]);
      });
    });
  }
});
