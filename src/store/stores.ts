import type { Sql } from './db';
import { createHostStore } from './hosts';
import { createJobStore, type JobStoreOptions } from './jobs';
import { createAccountStore } from './accounts';
import { createAuditStore } from './audit';
import { createBatchStore } from './batches';
import { createPauseStore } from './pausing';
import { createRequestStore } from './host-requests';
import { createScheduleStore } from './schedules';
import { createRetentionStore } from './retention';
import { createInventoryStore } from './inventory';
import { createQueue } from './queue';
import { createSigningKeyStore } from './signing-keys';

export interface StoreSettings extends JobStoreOptions {
  /** Inventory snapshots kept per host (the newest ones). */
  snapshotsKept: number;
}

/** The store's parts over one database (on the embedded store's thread, or beside a `pg` pool). */
export function createStores(db: Sql, nodeId: string, settings: StoreSettings) {
  // The queue's transitions bump jobs inside their own transactions; callers only see the job store's API.
  const { changed, scheduleIn, grew, ...jobs } = createJobStore(db, nodeId, settings);
  return {
    hosts: createHostStore(db),
    jobs,
    queue: createQueue(db, changed, { snapshotsKept: settings.snapshotsKept }),
    inventory: createInventoryStore(db),
    audit: createAuditStore(db),
    batches: createBatchStore(db),
    pausing: createPauseStore(db, changed),
    requests: createRequestStore(db, changed),
    schedules: createScheduleStore(db, scheduleIn, grew),
    retention: createRetentionStore(db),
    accounts: createAccountStore(db, { announce: settings.announce }),
    signingKeys: createSigningKeyStore(db),
  };
}
