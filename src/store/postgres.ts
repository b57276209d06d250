import pg from 'pg';
import type { ListeningDb, Listener } from './db';
import { createBackoff } from '../backoff';
import { poolDb } from './pool-db';

/**
 * The server store: a `pg` Pool against PostgreSQL. Connection failures surface as UNAVAILABLE;
 * LISTEN runs on a dedicated connection that reconnects with backoff, to `listenUrl` when given (a
 * direct session connection beside a transaction pooler, whose pooled connections drop notifications).
 * With `prepare` (the default), each statement is planned once per connection (see poolDb).
 */
export async function openPostgres(url: string, options: { poolSize?: number; listenUrl?: string | null; prepare?: boolean } = {}): Promise<ListeningDb> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    // A transaction's statements that do not wait for each other share a round trip (see poolDb).
    pipeline: true,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const listeners = createListenConnection(options.listenUrl ?? url);
  return {
    ...poolDb(pool, { prepare: options.prepare ?? true, pipeline: true }),
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
  const backoff = createBackoff();

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
      backoff.reset();
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
        scheduleReconnect();
      }
    }, backoff.next());
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
