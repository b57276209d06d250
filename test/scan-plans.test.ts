import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionFailureReason, ActionStatus } from '../src/model';
import type { Store } from '../src/store';
import type { Queryable, Sql } from '../src/store/db';
import { createStores } from '../src/store/stores';
import { backends } from './support/backends';
import { sqlOf } from './support/sql';
import { until } from './support/wait';

// Scans go Queued → Running → ended faster than PostgreSQL's autoanalyze follows, so the planner often
// believes no scan is Running while hundreds are. The statements that take scans by id must still look
// them up by id: a plan that walks every Running scan costs each result write time in proportion to the
// whole fleet in flight (seen: 20 ms for 32 results with 1,000 leased).

const LEASE = 60_000;
const HOSTS = 1_500;
const RUNNING = 1_000;

type Plan = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: Plan[] };
const nodes = (p: Plan): Plan[] => [p, ...(p.Plans ?? []).flatMap(nodes)];

/** The same database, with every parameterized statement the queue sends written down. */
function recording(sql: Sql, seen: { text: string; values: readonly unknown[] }[]): Sql {
  const wrap = (q: Queryable): Queryable => ({
    query: (text, values) => {
      if (values?.length) seen.push({ text, values });
      return q.query(text, values);
    },
    exec: (text) => q.exec(text),
  });
  return { ...wrap(sql), transaction: (fn) => sql.transaction((tx) => fn(wrap(tx))) };
}

/** Rows in `table` as the planner's statistics count them (-1 or 0 before the first ANALYZE). */
const counted = async (sql: Sql, table: string) =>
  Number((await sql.query<{ n: string }>(`SELECT reltuples::bigint AS n FROM pg_class WHERE oid = $1::regclass`, [table]))[0]!.n);

for (const backend of backends) {
  describe.skipIf(!backend.available)(`plans of the statements that take scans by id: ${backend.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
    });
    afterAll(() => cleanup());

    it('look the scans up by id while statistics still say no scan is Running', async () => {
      const sql = sqlOf(store);
      const { hosts } = await store.hosts.upsert(Array.from({ length: HOSTS }, (_, i) => ({ name: `plan-${i}`, ipAddress: '127.0.0.1' })));
      for (let i = 0; i < HOSTS; i += 500) {
        await store.jobs.schedule(hosts!.slice(i, i + 500).map((h) => h.id), { subject: 'plans', userName: 'plans', address: null });
      }
      // Statistics taken while every scan waits, and kept so: autoanalyze must not catch up during the test.
      // The store analyzes once after the first thousand new jobs (below); that one ends first.
      if (store.kind === 'postgres') await sql.query('ALTER TABLE host_scans SET (autovacuum_enabled = false)');
      await until('the store to analyze after 1,000 new jobs', async () => (await counted(sql, 'host_scan_jobs')) >= 1_000);
      await sql.exec('ANALYZE host_scans');
      const ids: string[] = [];
      while (ids.length < RUNNING) ids.push(...(await store.queue.claim('plans', 500, LEASE)).scans.map((s) => s.id));

      const seen: { text: string; values: readonly unknown[] }[] = [];
      const { queue } = createStores(recording(sql, seen), store.nodeId, { origin: 'plans', announce: false, snapshotsKept: 10 });
      const result = { status: ActionStatus.Complete, description: 'Complete', failureReason: ActionFailureReason.NoError, hostConnected: true } as const;
      await queue.finish('plans', ids.slice(0, 32).map((scanId) => ({ scanId, result })));
      await queue.heartbeat('plans', ids.slice(32, 64), LEASE);
      await queue.release('plans', ids.slice(64, 96));

      const byStatus = new Set((await sql.query<{ indexname: string }>(
        `SELECT indexname FROM pg_indexes WHERE tablename = 'host_scans' AND indexdef ~ 'WHERE .*status'`,
      )).map((r) => r.indexname));
      expect(byStatus.size).toBeGreaterThan(0);
      const byId = seen.filter((s) => /host_scans/.test(s.text) && /uuid\[\]/.test(s.text));
      expect(byId.length).toBeGreaterThanOrEqual(3);
      for (const { text, values } of byId) {
        const [row] = await sql.query<{ 'QUERY PLAN': [{ Plan: Plan }] }>(`EXPLAIN (FORMAT JSON) ${text}`, values);
        // A table this small may be read whole (the planner knows its size); an index over scans in some
        // status, whose size the planner takes from the stale statistics, must not be the way in.
        const used = nodes(row!['QUERY PLAN'][0].Plan).flatMap((n) => (n['Index Name'] ? [n['Index Name']] : []));
        expect(used.filter((name) => byStatus.has(name)), text).toEqual([]);
      }
    });
  });
}

// The embedded store also analyzes on timers of its own (src/store/pglite-worker.ts), so only PostgreSQL,
// with autovacuum off for these tables, can show that the schedule itself asked for fresh statistics.
const postgres = backends.find((b) => b.name === 'PostgreSQL')!;
const CREATOR = { subject: 'plans', userName: 'plans', address: null };
// Both ways jobs are made in bulk: a caller's schedule call, and a recurring schedule's firing.
const bulk: { name: string; make(store: Store, hostIds: string[]): Promise<unknown> }[] = [
  { name: 'a schedule call', make: (store, hostIds) => store.jobs.schedule(hostIds, CREATOR) },
  {
    name: "a recurring schedule's firing",
    async make(store, hostIds) {
      const { schedule } = await store.schedules.create({ name: 'nightly', cron: '0 2 * * *', timeZone: 'UTC', hosts: { hostIds }, enabled: true }, 'plans');
      expect(await store.schedules.fire(schedule!.id, new Date(), 'plans', CREATOR)).toMatchObject({ jobs: { length: hostIds.length } });
    },
  },
];
describe.skipIf(!postgres.available)('statistics after fast growth: PostgreSQL', () => {
  for (const { name, make } of bulk) {
    it(`${name} that brings a thousand new jobs analyzes the queue tables without waiting for autovacuum`, async () => {
      const { store, cleanup } = await postgres.open();
      try {
        const sql = sqlOf(store);
        await sql.exec('ALTER TABLE host_scan_jobs SET (autovacuum_enabled = false); ALTER TABLE host_scans SET (autovacuum_enabled = false)');
        const { hosts } = await store.hosts.upsert(Array.from({ length: 1_000 }, (_, i) => ({ name: `grow-${i}`, ipAddress: '127.0.0.1' })));
        expect(await counted(sql, 'host_scan_jobs')).toBeLessThan(1);
        await make(store, hosts!.map((h) => h.id));
        await until('fresh statistics for both tables', async () => (await counted(sql, 'host_scan_jobs')) === 1_000 && (await counted(sql, 'host_scans')) === 1_000);
      } finally {
        await cleanup();
      }
    });
  }
});
