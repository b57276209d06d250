import type { Sql } from './db';
import { createHostStore } from './hosts';
import { createJobStore, type JobStoreOptions } from './jobs';
import { createQueue } from './queue';

/** The store's three parts over one database (on the embedded store's thread, or beside a `pg` pool). */
export function createStores(db: Sql, nodeId: string, options: JobStoreOptions) {
  // The queue's transitions bump jobs inside their own transactions; callers only see the job store's API.
  const { changed, ...jobs } = createJobStore(db, nodeId, options);
  return { hosts: createHostStore(db), jobs, queue: createQueue(db, changed) };
}
