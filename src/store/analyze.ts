import type { Sql } from './db';

// Fewer new jobs than this never call for fresh statistics; above it, growth of a tenth since the last
// count does, at most once per interval (as autovacuum, which looks once a minute by default).
const MIN_ROWS = 1_000;
const GROWTH = 0.1;
const MIN_INTERVAL_MS = 10_000;
// The queue's statements look rows up by id and status; a small sample describes those (as the embedded
// store's own ANALYZE does) at a fifth of the default's cost.
const SAMPLE_TARGET = 20;

/**
 * Fresh planner statistics for the queue's tables once they have grown fast. A prepared statement keeps the
 * plan it settled on while the tables were small (a sequential read of a few pages) until statistics
 * change, and PostgreSQL's autovacuum looks at most once a minute (the embedded store's only on its own
 * timers): meanwhile every result write read all the jobs (measured: locking a write's jobs took 15 ms
 * instead of 1, a 10,000-host batch ran at half speed). ANALYZE replaces those plans in every session.
 */
export function createGrowthAnalyzer(db: Sql) {
  let counted = 0;
  let grown = 0;
  let last = -Infinity;
  let running = false;
  return {
    /** `rows` jobs were just committed. */
    grew(rows: number): void {
      grown += rows;
      if (running || grown < Math.max(MIN_ROWS, counted * GROWTH) || Date.now() - last < MIN_INTERVAL_MS) return;
      grown = 0;
      last = Date.now();
      running = true;
      db.transaction(async (tx) => {
        await tx.exec(`SET LOCAL default_statistics_target = ${SAMPLE_TARGET}; ANALYZE host_scan_jobs, host_scans`);
        const [row] = await tx.query<{ n: string }>(`SELECT reltuples::bigint AS n FROM pg_class WHERE oid = 'host_scan_jobs'::regclass`);
        counted = Number(row?.n ?? 0);
      })
        // Statistics are an optimisation: a failed ANALYZE (the store closing, an outage) leaves autovacuum's.
        .catch(() => {})
        .finally(() => (running = false));
    },
  };
}
