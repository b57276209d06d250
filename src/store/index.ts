import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { listenForChanges, type ChangeNotifications } from './changes';
import { listenForAccountChanges, type AccountChanges } from './account-changes';
import type { Db } from './db';
import type { HostStore } from './hosts';
import type { JobStore } from './jobs';
import { encodeBackup } from './backup-file';
import { migrate } from './migrations';
import type { AuditStore } from './audit';
import { createCredentialStore, type CredentialStore } from './credentials';
import type { BatchStore } from './batches';
import type { PauseStore } from './pausing';
import type { RequestStore } from './host-requests';
import type { ScheduleStore } from './schedules';
import type { RetentionStore } from './retention';
import type { AccountStore } from './accounts';
import type { SigningKeyStore } from './signing-keys';
import type { InventoryStore } from './inventory';
import type { Queue } from './queue';
import { openPglite } from './pglite';
import { openPostgres } from './postgres';
import { createStores } from './stores';
import { redactUrl } from '../redact-url';

export type { ChangeListener, ChangeNotifications } from './changes';
export { JOB_CHANNEL, PROBE_CHANNEL } from './changes';
export type { ChangePosition } from './jobs';
export type { HostListQuery, UpsertResult } from './hosts';
export type { JobListQuery, ScheduleResult } from './jobs';
export type { ClaimedScan, Finished, Queue, ScanResult } from './queue';
export type { HostKeyTrust, InventoryStore, SnapshotChange, SnapshotGroup, SnapshotRecord, SnapshotService, SnapshotTask, SnapshotUser } from './inventory';
export type { InventoryUpdate } from './snapshots';
export type { AuditQuery, AuditRecord, AuditStore } from './audit';
export { CredentialKind, type Credential, type CredentialListQuery, type CredentialStore, type CredentialWrite, type ResealCounts, type Resealers } from './credentials';
export type { BatchStore } from './batches';
export type { PauseResult, PauseStore, PauseTarget } from './pausing';
export type { AccountStore, AppRecord, UserChange, UserRecord } from './accounts';
export { NAME_TAKEN } from './accounts';
export type { NewSigningKey, SigningKeyRecord, SigningKeyStore } from './signing-keys';
export type { AccountChangeListener, AccountChanges } from './account-changes';

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
  readonly accounts: AccountStore;
  readonly signingKeys: SigningKeyStore;
  /** Credentials and their sealed secrets; its statements run on this thread, on either store. */
  readonly credentials: CredentialStore;
  readonly batches: BatchStore;
  readonly pausing: PauseStore;
  readonly requests: RequestStore;
  readonly schedules: ScheduleStore;
  readonly retention: RetentionStore;
  /** Changes other instances commit, over NOTIFY; null on the embedded store and when another transport carries them. */
  readonly changes: ChangeNotifications | null;
  /**
   * A backup file of the whole store at one consistent point (see backup-file.ts); null on PostgreSQL,
   * which pg_dump backs up.
   */
  readonly backup: (() => Promise<Buffer>) | null;
  /** Accounts' token versions as any instance changes them; null where no other instance can share the database. */
  readonly accountChanges: AccountChanges | null;
  /** Whether the database answers now. */
  healthy(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface StoreOptions {
  databaseUrl: string | null;
  databasePoolSize?: number;
  /** Named prepared statements on PostgreSQL (see Config). @default true */
  databasePreparedStatements?: boolean;
  /** A direct (session) connection for LISTEN only, beside a transaction pooler in DATABASE_URL. */
  databaseListenUrl?: string | null;
  /**
   * Announce job changes with NOTIFY and listen for them (PostgreSQL). Off when another event transport
   * carries them. @default true
   */
  notify?: boolean;
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
  const server = embedded ? null : await openPostgres(options.databaseUrl!, { poolSize: options.databasePoolSize, listenUrl: options.databaseListenUrl, prepare: options.databasePreparedStatements ?? true });
  const db = (embedded ?? server)!;
  try {
    await migrate(db);
    const [meta] = await db.query<{ value: string }>(`SELECT value FROM gateway_meta WHERE key = 'node_id'`);
    const nodeId = meta!.value;
    let stopping: Promise<void> | null = null;
    const origin = `${process.pid}-${randomUUID()}`;
    const snapshotsKept = options.snapshotsKept ?? 10;
    const notify = !!server && options.notify !== false;
    const listenName = `PostgreSQL LISTEN (${redactUrl(options.databaseListenUrl ?? options.databaseUrl ?? '')})`;
    const store: Store = {
      kind: embedded ? 'embedded' : 'postgres',
      nodeId,
      origin,
      ...(embedded
        ? await embedded.stores(nodeId, { origin, snapshotsKept })
        : createStores(db, nodeId, { origin, announce: notify, snapshotsKept })),
      credentials: createCredentialStore(db),
      changes: server && notify ? listenForChanges(server, origin, listenName) : null,
      backup: embedded ? () => embedded.backup().then(({ manifest, tarball }) => encodeBackup(manifest, tarball)) : null,
      accountChanges: server ? listenForAccountChanges(server) : null,
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
