import pg from 'pg';
import { unavailable } from '../errors';
import type { Db, Listener, Queryable } from './db';

// Connection-level failures: the database is unreachable, not the query wrong.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300',
]);

/** True for errors that mean "PostgreSQL is not reachable right now". */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && UNAVAILABLE_CODES.has(code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(err.message);
}

const translate = (err: unknown): never => {
  throw isConnectionError(err) ? unavailable('The database is unreachable; try again shortly.') : err;
};

/**
 * The server store: a `pg` Pool against PostgreSQL. Connection failures surface as UNAVAILABLE;
 * LISTEN runs on a dedicated connection that reconnects with backoff.
 */
export async function openPostgres(url: string, options: { poolSize?: number } = {}): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const wrap = (q: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T>(sql: string, params?: readonly unknown[]) {
      try {
        return (await q.query(sql, params as unknown[] | undefined)).rows as T[];
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
  const listeners = createListenConnection(url);
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
    listen: listeners.listen,
    async healthy() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await listeners.close();
      await pool.end().catch(() => {});
    },
  };
}

function createListenConnection(url: string) {
  const channels = new Map<string, Set<Listener>>();
  let client: pg.Client | null = null;
  let connecting: Promise<pg.Client> | null = null;
  let closed = false;
  let retryTimer: NodeJS.Timeout | null = null;
  let backoffMs = 250;

  const connect = (): Promise<pg.Client> => {
    connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
      c.on('error', () => lost(c));
      c.on('end', () => lost(c));
      c.on('notification', (msg) => {
        for (const l of channels.get(msg.channel) ?? []) l.onPayload(msg.payload ?? '');
      });
      await c.connect();
      for (const channel of channels.keys()) await c.query(`LISTEN ${quoteIdent(channel)}`);
      client = c;
      backoffMs = 250;
      return c;
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  const lost = (c: pg.Client) => {
    if (client !== c) return;
    client = null;
    for (const set of channels.values()) for (const l of set) l.onLost?.();
    c.removeAllListeners('notification');
    void c.end().catch(() => {});
    scheduleReconnect();
  };

  const scheduleReconnect = () => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(async () => {
      retryTimer = null;
      try {
        await connect();
        for (const set of channels.values()) for (const l of set) l.onReconnect?.();
      } catch {
        backoffMs = Math.min(backoffMs * 2, 5_000);
        scheduleReconnect();
      }
    }, backoffMs);
    retryTimer.unref();
  };

  return {
    async listen(channel: string, listener: Listener) {
      const isNew = !channels.has(channel);
      if (isNew) channels.set(channel, new Set());
      channels.get(channel)!.add(listener);
      try {
        const c = client ?? (await connect());
        if (isNew) await c.query(`LISTEN ${quoteIdent(channel)}`);
      } catch {
        scheduleReconnect();
      }
      return async () => {
        channels.get(channel)?.delete(listener);
      };
    },
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
