import type { ListeningDb } from './db';

/** The NOTIFY channel on which job changes are announced, as `<origin> <jobId>,<jobId>,…`. */
export const JOB_CHANNEL = 'scan_gateway_jobs';
// NOTIFY payloads must stay under 8000 bytes: 100 ids take about 3.7 kB.
export const IDS_PER_NOTIFY = 100;

/** Told about jobs other instances changed; `onLost` when changes may go unheard, `onReconnect` when heard again. */
export interface ChangeListener {
  onChange(jobIds: string[]): void;
  onLost?(): void;
  onReconnect?(): void;
}

/**
 * A capability of stores that other instances share (PostgreSQL): hear which jobs they changed. The
 * embedded store, which serves one gateway, has none.
 */
export interface ChangeNotifications {
  /** Resolves to a function that stops listening. */
  listen(listener: ChangeListener): Promise<() => Promise<void>>;
}

/** Change notifications over LISTEN, skipping this process's own announcements. */
export function listenForChanges(db: ListeningDb, origin: string): ChangeNotifications {
  return {
    listen: (listener) =>
      db.listen(JOB_CHANNEL, {
        onPayload(payload) {
          const space = payload.indexOf(' ');
          if (space < 0 || payload.slice(0, space) === origin) return;
          const ids = payload.slice(space + 1).split(',').filter(Boolean);
          if (ids.length > 0) listener.onChange(ids);
        },
        onLost: () => listener.onLost?.(),
        onReconnect: () => listener.onReconnect?.(),
      }),
  };
}
