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
  const stopMaintenance = maintain(pg);
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
      stopMaintenance();
      closing ??= pg.close().finally(releaseLock);
      return closing;
    },
  };
}

// PGlite runs PostgreSQL in single-user mode: no autovacuum worker keeps the planner's statistics fresh.
// Without them it takes growing tables for empty ones and joins by scanning them (a 21-job read went from
// 0.6 ms to 18 ms at 28,000 scans). A coarse ANALYZE now and then keeps plans right; it samples, so it
// stays cheap as the tables grow (about 0.1 s at 28,000 jobs, on the event loop): soon after start, when a
// fresh database fills fastest, then every five minutes.
const ANALYZE_AT_MS = [5_000, 60_000];
const ANALYZE_EVERY_MS = 5 * 60_000;

function maintain(pg: PGlite): () => void {
  const analyze = () => {
    if (!pg.closed) void pg.exec('SET default_statistics_target = 20; ANALYZE; RESET default_statistics_target').catch(() => {});
  };
  const early = ANALYZE_AT_MS.map((ms) => setTimeout(analyze, ms).unref());
  const timer = setInterval(analyze, ANALYZE_EVERY_MS).unref();
  return () => {
    early.forEach(clearTimeout);
    clearInterval(timer);
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
