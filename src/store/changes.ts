import { decodeChanges, decodeProbe, encodeProbe, type JobChange } from '../change-message';
import type { ListeningDb, Sql } from './db';

/** The NOTIFY channel on which job changes are announced (see change-message.ts for the payload). */
export const JOB_CHANNEL = 'scan_gateway_jobs';
/** The NOTIFY channel of the listener check: each process hears its own probes back. */
export const PROBE_CHANNEL = 'scan_gateway_probe';

/** Told about jobs other instances changed; `onLost` when changes may go unheard, `onReconnect` when heard again. */
export interface ChangeListener {
  onChange(changes: JobChange[]): void;
  /** A probe this process sent came back. */
  onProbe?(token: string): void;
  onLost?(): void;
  onReconnect?(): void;
}

/**
 * How instances sharing a database hear which jobs the others changed: PostgreSQL's LISTEN/NOTIFY, or an
 * event transport (EVENTS_URL). The embedded store, which serves one gateway, has none.
 */
export interface ChangeNotifications {
  /** Names the path for logs and readiness, without credentials. */
  readonly name: string;
  /** Resolves to a function that stops listening. */
  listen(listener: ChangeListener): Promise<() => Promise<void>>;
  /** Send a probe on the path; this process's own listener hears it back (`onProbe`) when the path delivers. */
  probe(token: string): Promise<void>;
  /**
   * Announce changes this process committed. Absent where the store announces them itself (NOTIFY, sent
   * in the change's own transaction).
   */
  announce?(changes: readonly JobChange[]): void;
  stop?(): Promise<void>;
}

/** Change notifications over LISTEN, skipping this process's own announcements. */
export function listenForChanges(db: ListeningDb & Sql, origin: string, name: string): ChangeNotifications {
  return {
    name,
    async listen(listener) {
      const jobs = await db.listen(JOB_CHANNEL, {
        onPayload(payload) {
          const message = decodeChanges(payload);
          if (message && message.origin !== origin && message.changes.length > 0) listener.onChange(message.changes);
        },
        onLost: () => listener.onLost?.(),
        onReconnect: () => listener.onReconnect?.(),
      });
      const probes = await db.listen(PROBE_CHANNEL, {
        onPayload(payload) {
          const token = decodeProbe(payload, origin);
          if (token !== null) listener.onProbe?.(token);
        },
      });
      return async () => {
        await probes();
        await jobs();
      };
    },
    async probe(token) {
      await db.query('SELECT pg_notify($1, $2)', [PROBE_CHANNEL, encodeProbe(origin, token)]);
    },
  };
}
