import { randomUUID } from 'node:crypto';
import type { Db } from './db';
import type { HostStore } from './hosts';
import type { JobStore } from './jobs';
import { migrate } from './migrations';
import type { Queue } from './queue';
import { openPglite } from './pglite';
import { openPostgres } from './postgres';
import { createStores } from './stores';

export type { Db } from './db';
export type { HostListQuery, UpsertResult } from './hosts';
export { JOB_CHANNEL } from './jobs';
export type { JobListQuery, ScheduleResult } from './jobs';
export type { ClaimedScan, Queue, ScanResult } from './queue';

/** The scan model's persistence. One SQL dialect; PGlite (embedded) or PostgreSQL underneath. */
export interface Store {
  readonly kind: 'embedded' | 'postgres';
  /** Identifies this database (the vendor's `nodeId`). */
  readonly nodeId: string;
  /** Identifies this process among the instances sharing the database. */
  readonly origin: string;
  readonly db: Db;
  readonly hosts: HostStore;
  readonly jobs: JobStore;
  readonly queue: Queue;
  stop(): Promise<void>;
}

export interface StoreOptions {
  databaseUrl: string | null;
  databasePoolSize?: number;
  dataDir: string;
}

/** Open the configured database, apply migrations and build the store. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const kind = options.databaseUrl ? 'postgres' : 'embedded';
  const embedded = options.databaseUrl ? null : await openPglite(options.dataDir);
  const db = embedded ?? (await openPostgres(options.databaseUrl!, { poolSize: options.databasePoolSize }));
  try {
    await migrate(db);
    const [meta] = await db.query<{ value: string }>(`SELECT value FROM gateway_meta WHERE key = 'node_id'`);
    const nodeId = meta!.value;
    let stopping: Promise<void> | null = null;
    const origin = `${process.pid}-${randomUUID()}`;
    return {
      kind,
      nodeId,
      origin,
      db,
      ...(embedded ? await embedded.stores(nodeId, origin) : createStores(db, nodeId, { origin, announce: true })),
      stop: () => (stopping ??= db.close()),
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
