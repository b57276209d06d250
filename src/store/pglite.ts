import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Db, Queryable } from './db';
import { lockDataDir } from './dir-lock';
import type { HostStore } from './hosts';
import type { JobStore } from './jobs';
import type { Reply, Request, StoreCall, WorkerOptions } from './pglite-worker';
import type { AuditStore } from './audit';
import type { InventoryStore } from './inventory';
import type { Queue } from './queue';
import type { StoreSettings } from './stores';

type Call = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface EmbeddedDb extends Db {
  /** The store's operations, each run whole on the database's thread. */
  stores(nodeId: string, settings: Omit<StoreSettings, 'announce'>): Promise<{ hosts: HostStore; jobs: JobStore; queue: Queue; inventory: InventoryStore; audit: AuditStore }>;
}

/**
 * The embedded store: PostgreSQL compiled to WASM, with its data under `dataDir`, run on a worker thread
 * of this process (see pglite-worker.ts). Locks the directory (see dir-lock.ts) so that a second gateway
 * cannot open it and corrupt it.
 */
export async function openPglite(dataDir: string): Promise<EmbeddedDb> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const releaseLock = await lockDataDir(dir);
  const worker = new Worker(workerFile(), { workerData: { dataDir: join(dir, 'pgdata') } satisfies WorkerOptions });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  let gone: Error | null = null;

  const opened = new Promise<void>((resolveOpen, rejectOpen) => pending.set(0, { resolve: () => resolveOpen(), reject: rejectOpen }));
  worker.on('message', (reply: Reply) => {
    const call = pending.get(reply.id);
    pending.delete(reply.id);
    if (!call) return;
    if ('error' in reply) call.reject(Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {}));
    else call.resolve((reply as { value: unknown }).value);
  });
  const fail = (err: Error) => {
    gone ??= err;
    for (const call of pending.values()) call.reject(gone);
    pending.clear();
  };
  worker.on('error', (err) => fail(new Error(`The embedded store stopped: ${err.message}`)));
  worker.on('exit', (code) => fail(new Error(`The embedded store stopped (worker exit ${code}).`)));

  const call = <T>(request: Call): Promise<T> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolveCall, reject) => {
      pending.set(id, { resolve: resolveCall as (value: unknown) => void, reject });
      worker.postMessage({ ...request, id });
    });
  };
  const on = (tx?: number): Queryable => ({
    query: <T>(sql: string, params?: readonly unknown[]) => call<T[]>({ op: 'query', sql, params, tx }),
    exec: (sql: string) => call<void>({ op: 'exec', sql, tx }),
  });

  try {
    await opened;
  } catch (err) {
    await worker.terminate();
    await releaseLock();
    throw err;
  }
  // Forwards every method call to the worker's store of that name. Arguments and results are plain data
  // (structured clone keeps Dates, Maps and Sets), which is what the store's methods take and give. T's
  // methods are the worker's (see StoreCall), so the call built here is one StoreCall allows.
  const remote = <T extends object>(target: StoreCall['target']): T =>
    new Proxy({} as T, {
      // Not `then`: a store must not look like a promise to `await`.
      get: (_, method) =>
        typeof method === 'string' && method !== 'then'
          ? (...args: unknown[]) => call({ op: 'call', ...({ target, method, args } as unknown as StoreCall) })
          : undefined,
    });
  let closing: Promise<void> | null = null;
  return {
    ...on(),
    async stores(nodeId: string, settings: Omit<StoreSettings, 'announce'>) {
      await call({ op: 'stores', nodeId, settings: { ...settings, announce: false } });
      return { hosts: remote<HostStore>('hosts'), jobs: remote<JobStore>('jobs'), queue: remote<Queue>('queue'), inventory: remote<InventoryStore>('inventory'), audit: remote<AuditStore>('audit') };
    },
    async transaction(fn) {
      const tx = await call<number>({ op: 'begin' });
      let result;
      try {
        result = await fn(on(tx));
      } catch (err) {
        await call({ op: 'end', tx, commit: false }).catch(() => {});
        throw err;
      }
      await call({ op: 'end', tx, commit: true });
      return result;
    },
    async healthy() {
      return !gone && !closing;
    },
    close() {
      closing ??= call({ op: 'close' })
        .catch(() => {})
        .then(() => worker.terminate())
        .then(() => releaseLock());
      return closing;
    },
  };
}

/** The compiled worker script; under the test runner (TypeScript sources) the build in dist/ serves. */
function workerFile(): string {
  return __filename.endsWith('.ts') ? join(__dirname, '../../dist/store/pglite-worker.js') : join(__dirname, 'pglite-worker.js');
}
