import { openStore, sqlOf, type Store } from '../../src/store';

export { sqlOf };

/** How many jobs the store holds, to prove a refused request scheduled nothing. */
export async function countJobs(store: Store): Promise<number> {
  return (await sqlOf(store).query<{ n: number }>('SELECT count(*)::int AS n FROM host_scan_jobs'))[0]!.n;
}

/** Open the embedded store in `dataDir` (no gateway may be running on it), run `fn` on its database, close it. */
export async function withEmbeddedSql<T>(dataDir: string, fn: (db: ReturnType<typeof sqlOf>) => Promise<T>): Promise<T> {
  const store = await openStore({ databaseUrl: null, dataDir });
  try {
    return await fn(sqlOf(store));
  } finally {
    await store.stop();
  }
}
