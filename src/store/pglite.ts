import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AccountStore } from './accounts';
import type { AuditStore } from './audit';
import type { BatchStore } from './batches';
import type { PauseStore } from './pausing';
import type { RequestStore } from './host-requests';
import type { ScheduleStore } from './schedules';
import type { RetentionStore } from './retention';
import type { Db, Queryable } from './db';
import { lockDataDir } from './dir-lock';
import type { HostStore } from './hosts';
import type { InventoryStore } from './inventory';
import type { JobStore } from './jobs';
import type { StoreCall, WorkerOptions } from './pglite-worker';
import type { Snapshot } from './snapshot';
import type { Queue } from './queue';
import type { SigningKeyStore } from './signing-keys';
import type { StoreSettings } from './stores';
import { WorkerLink } from './worker-link';

export interface EmbeddedDb extends Db {
  /** The store's operations, each run whole on the database's thread. */
  stores(nodeId: string, settings: Omit<StoreSettings, 'announce'>): Promise<{ hosts: HostStore; jobs: JobStore; queue: Queue; inventory: InventoryStore; audit: AuditStore; batches: BatchStore; pausing: PauseStore; requests: RequestStore; schedules: ScheduleStore; retention: RetentionStore; accounts: AccountStore; signingKeys: SigningKeyStore }>;
  /** The data directory and its manifest at one consistent point between transactions (see the worker). */
  backup(): Promise<Snapshot>;
  /** Kill the database's thread as a crash would; it restarts by itself (tests of the restart only). */
  terminateForTests(): Promise<void>;
}

/**
 * The embedded store: PostgreSQL compiled to WASM, with its data under `dataDir`, run on a worker thread
 * of this process (see pglite-worker.ts) that is restarted on the same directory if it dies (see
 * WorkerLink). Locks the directory (see dir-lock.ts) so that a second gateway cannot open it and corrupt it.
 */
export async function openPglite(dataDir: string, logger: Logger): Promise<EmbeddedDb> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const releaseLock = await lockDataDir(dir);
  let setUp: { nodeId: string; settings: StoreSettings } | null = null;
  const link = new WorkerLink(workerFile(), { dataDir: join(dir, 'pgdata') } satisfies WorkerOptions, {
    logger,
    // A new thread gets the store parts the old one had before it serves anyone.
    onRestart: async () => {
      if (setUp) await link.call({ op: 'stores', ...setUp });
    },
  });
  try {
    await link.start();
  } catch (err) {
    await link.close();
    await releaseLock();
    throw err;
  }
  const on = (tx?: { id: number; generation: number }): Queryable => ({
    query: <T>(sql: string, params?: readonly unknown[]) => link.call<T[]>({ op: 'query', sql, params, tx: tx?.id }, tx?.generation),
    exec: (sql: string) => link.call<void>({ op: 'exec', sql, tx: tx?.id }, tx?.generation),
  });
  // Forwards every method call to the worker's store of that name. Arguments and results are plain data
  // (structured clone keeps Dates, Maps and Sets), which is what the store's methods take and give. T's
  // methods are the worker's (see StoreCall), so the call built here is one StoreCall allows.
  const remote = <T extends object>(target: StoreCall['target']): T =>
    new Proxy({} as T, {
      // Not `then`: a store must not look like a promise to `await`.
      get: (_, method) =>
        typeof method === 'string' && method !== 'then'
          ? (...args: unknown[]) => link.call({ op: 'call', ...({ target, method, args } as unknown as StoreCall) })
          : undefined,
    });
  let closing: Promise<void> | null = null;
  return {
    ...on(),
    async stores(nodeId: string, settings: Omit<StoreSettings, 'announce'>) {
      setUp = { nodeId, settings: { ...settings, announce: false } };
      await link.call({ op: 'stores', ...setUp });
      return { hosts: remote<HostStore>('hosts'), jobs: remote<JobStore>('jobs'), queue: remote<Queue>('queue'), inventory: remote<InventoryStore>('inventory'), audit: remote<AuditStore>('audit'), batches: remote<BatchStore>('batches'), pausing: remote<PauseStore>('pausing'), requests: remote<RequestStore>('requests'), schedules: remote<ScheduleStore>('schedules'), retention: remote<RetentionStore>('retention'),
        accounts: remote<AccountStore>('accounts'), signingKeys: remote<SigningKeyStore>('signingKeys') };
    },
    async transaction(fn) {
      const generation = link.current;
      const tx = { id: await link.call<number>({ op: 'begin' }, generation), generation };
      let result;
      try {
        result = await fn(on(tx));
      } catch (err) {
        await link.call({ op: 'end', tx: tx.id, commit: false }, generation).catch(() => {});
        throw err;
      }
      await link.call({ op: 'end', tx: tx.id, commit: true }, generation);
      return result;
    },
    async healthy() {
      return link.up && !closing;
    },
    backup: () => link.call<Snapshot>({ op: 'backup' }),
    terminateForTests: () => link.terminateForTests(),
    close() {
      closing ??= link.close().then(() => releaseLock());
      return closing;
    },
  };
}

/** The compiled worker script; under the test runner (TypeScript sources) the build in dist/ serves. */
function workerFile(): string {
  return __filename.endsWith('.ts') ? join(__dirname, '../../dist/store/pglite-worker.js') : join(__dirname, 'pglite-worker.js');
}
