import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { listenForChanges, type ChangeNotifications } from './changes';
import type { Db } from './db';
import type { HostStore } from './hosts';
import type { JobStore } from './jobs';
import { migrate } from './migrations';
import type { AuditStore } from './audit';
import type { InventoryStore } from './inventory';
import type { Queue } from './queue';
import { openPglite } from './pglite';
import { openPostgres } from './postgres';
import { createStores } from './stores';

export type { ChangeListener, ChangeNotifications } from './changes';
export { JOB_CHANNEL } from './changes';
export type { HostListQuery, UpsertResult } from './hosts';
export type { JobListQuery, ScheduleResult } from './jobs';
export type { ClaimedScan, Finished, Queue, ScanResult } from './queue';
export type { HostKeyTrust, InventoryStore, SnapshotChange, SnapshotGroup, SnapshotRecord, SnapshotService, SnapshotTask, SnapshotUser } from './inventory';
export type { InventoryUpdate } from './snapshots';
export type { AuditQuery, AuditRecord, AuditStore } from './audit';

/**
 * The scan model's persistence: operations by name, never SQL. One SQL dialect underneath, on PGlite
 * (embedded) or PostgreSQL. What only one backend can do is a capability it declares (`changes`).
 */
export interface Store {
  readonly kind: 'embedded' | 'postgres';
  /** Identifies this database (the vendor's `nodeId`). */
  readonly nodeId: string;
  /** Identifies this process among the instances sharing the database. */
  readonly origin: string;
  readonly hosts: HostStore;
  readonly jobs: JobStore;
  readonly queue: Queue;
  readonly inventory: InventoryStore;
  readonly audit: AuditStore;
  /** Changes other instances commit; null where no other instance can share the database. */
  readonly changes: ChangeNotifications | null;
  /** Whether the database answers now. */
  healthy(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface StoreOptions {
  databaseUrl: string | null;
  databasePoolSize?: number;
  dataDir: string;
  /** Inventory snapshots kept per host. @default 10 */
  snapshotsKept?: number;
  /** Where the embedded store says that its thread died and came back. @default silent */
  logger?: Logger;
}

// Raw SQL for tests and diagnostics only: no part of the gateway outside store/ speaks SQL.
const handles = new WeakMap<Store, Db>();

/** The database under a store, for tests that set up or inspect rows directly. Not for the gateway. */
export function sqlOf(store: Store): Db {
  const db = handles.get(store);
  if (!db) throw new Error('Not a store opened by openStore.');
  return db;
}

/** Open the configured database, apply migrations and build the store. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const embedded = options.databaseUrl ? null : await openPglite(options.dataDir, options.logger ?? pino({ level: 'silent' }));
  const server = embedded ? null : await openPostgres(options.databaseUrl!, { poolSize: options.databasePoolSize });
  const db = (embedded ?? server)!;
  try {
    await migrate(db);
    const [meta] = await db.query<{ value: string }>(`SELECT value FROM gateway_meta WHERE key = 'node_id'`);
    const nodeId = meta!.value;
    let stopping: Promise<void> | null = null;
    const origin = `${process.pid}-${randomUUID()}`;
    const snapshotsKept = options.snapshotsKept ?? 10;
    const store: Store = {
      kind: embedded ? 'embedded' : 'postgres',
      nodeId,
      origin,
      ...(embedded
        ? await embedded.stores(nodeId, { origin, snapshotsKept })
        : createStores(db, nodeId, { origin, announce: true, snapshotsKept })),
      changes: server ? listenForChanges(server, origin) : null,
      healthy: () => db.healthy(),
      stop: () => (stopping ??= db.close()),
    };
    handles.set(store, db);
    return store;
  } catch (err) {
    await db.close();
    throw err;
  }
}
