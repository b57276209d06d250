import { sqlOf, type Store } from '../../src/store';

export { sqlOf };

/** How many jobs the store holds, to prove a refused request scheduled nothing. */
export async function countJobs(store: Store): Promise<number> {
  return (await sqlOf(store).query<{ n: number }>('SELECT count(*)::int AS n FROM host_scan_jobs'))[0]!.n;
}
