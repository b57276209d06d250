import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Db, Listener, Queryable } from './db';

/**
 * The embedded store: PostgreSQL compiled to WASM, in this process, with its data under `dataDir`.
 * Takes a lock file so that a second gateway cannot open the same directory and corrupt it.
 */
export async function openPglite(dataDir: string): Promise<Db> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const releaseLock = lockDataDir(dir);
  let pg: PGlite;
  try {
    pg = await PGlite.create(join(dir, 'pgdata'));
  } catch (err) {
    releaseLock();
    throw err;
  }
  const wrap = (q: PGlite | Transaction): Queryable => ({
    async query<T>(sql: string, params?: readonly unknown[]) {
      return (await q.query<T>(sql, params as unknown[] | undefined)).rows;
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  });
  let closing: Promise<void> | null = null;
  return {
    ...wrap(pg),
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    async listen(channel: string, listener: Listener) {
      const stop = await pg.listen(channel, listener.onPayload);
      return () => stop();
    },
    async healthy() {
      return !pg.closed;
    },
    close() {
      closing ??= pg.close().finally(releaseLock);
      return closing;
    },
  };
}

function lockDataDir(dir: string): () => void {
  const file = join(dir, 'gateway.pid');
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(file, 'utf8').trim());
    if (holder && isAlive(holder)) {
      throw new Error(`DATA_DIR ${dir} is in use by process ${holder}; the embedded store serves one gateway. Use DATABASE_URL to run several.`);
    }
    rmSync(file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
