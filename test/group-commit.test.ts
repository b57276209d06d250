import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../src/audit';
import type { Store } from '../src/store';
import type { Sql } from '../src/store/db';
import { groupCommit } from '../src/store/group-commit';
import { backends } from './support/backends';
import { sqlOf } from './support/sql';

// Concurrent schedule calls share transactions (group commit in the store). Each call still gets what a
// call of its own would: its own batch, its own audit record, the job a host already has, and its own
// failure: one call that fails inside a shared transaction fails alone.

const creator = { subject: 'group-test', userName: 'group-test', address: '127.0.0.1' };
const audit = (n: number): AuditEntry => ({ action: 'jobs.schedule', subject: 'group-test', roles: ['Admin'], address: null, traceId: `call-${n}`, target: null, details: {} });

for (const backend of backends) {
  describe.skipIf(!backend.available)(`schedules in shared transactions: ${backend.name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    let hostIds: string[];
    let poisonId: string;
    beforeAll(async () => {
      ({ store, cleanup } = await backend.open());
      const hosts = (await store.hosts.upsert([...Array.from({ length: 40 }, (_, i) => ({ name: `g-${i}` })), { name: 'poison' }])).hosts!;
      hostIds = hosts.filter((h) => h.name !== 'poison').sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })).map((h) => h.id);
      poisonId = hosts.find((h) => h.name === 'poison')!.id;
      // A real failure inside the store, for one host only: its scan's insert raises.
      await sqlOf(store).exec(`
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.name = 'poison' THEN RAISE EXCEPTION 'poisoned host'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON host_scans FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    });
    afterAll(() => cleanup());

    it('gives each of 20 concurrent calls its own batch and audit record, and one job per host across calls', async () => {
      // Calls 0–19 each schedule two hosts; calls 18 and 19 share host g-0 with call 0 (38 hosts in all).
      const calls = Array.from({ length: 20 }, (_, n) => (n >= 18 ? [hostIds[0]!, hostIds[18 + n]!] : [hostIds[2 * n]!, hostIds[2 * n + 1]!]));
      const results = await Promise.all(calls.map((ids, n) => store.jobs.schedule(ids, creator, audit(n))));
      for (const [n, r] of results.entries()) {
        expect(r.missing).toBeUndefined();
        expect(r.jobs!.map((j) => j.scans[0]!.hostId)).toEqual(calls[n]);
      }
      expect(new Set(results.map((r) => r.batchId)).size).toBe(20);
      const jobOfFirst = results[0]!.jobs![0]!.id;
      expect([results[18]!.jobs![0]!.id, results[19]!.jobs![0]!.id]).toEqual([jobOfFirst, jobOfFirst]);
      for (const [n, r] of results.entries()) {
        expect((await store.batches.jobIds(r.batchId!)).sort()).toEqual(r.jobs!.map((j) => j.id).sort());
        const [record] = await sqlOf(store).query<{ target: string }>(`SELECT target FROM audit_records WHERE trace_id = $1`, [`call-${n}`]);
        expect(record!.target).toBe(r.jobs!.map((j) => j.id).join(','));
      }
      const active = await sqlOf(store).query<{ n: number }>(`SELECT count(*)::int AS n FROM host_scans WHERE status = 0`);
      expect(active[0]!.n).toBe(38);
    });

    it('runs calls that arrive while transactions are under way in one shared transaction', async () => {
      const sql = sqlOf(store) as unknown as Sql;
      let transactions = 0;
      const counting: Sql = { query: (q, p) => sql.query(q, p), exec: (q) => sql.exec(q), transaction: (fn) => (transactions++, sql.transaction(fn)) };
      const grouped = groupCommit(counting, async (tx, n: number) => (await tx.query<{ n: number }>('SELECT $1::int AS n', [n]))[0]!.n, { maxGroup: 64, parallel: 2 });
      const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => grouped(n)));
      expect(answers).toEqual(Array.from({ length: 20 }, (_, n) => n));
      // Two start at once, each alone; the 18 behind them share one.
      expect(transactions).toBe(3);
    });

    it('fails only the call that failed when calls share a transaction', async () => {
      await sqlOf(store).exec(`UPDATE host_scans SET status = 2`);
      // The first calls start transactions of their own; the ones behind them queue and share the next. (The
      // embedded store's thread takes calls one at a time, so there each runs alone and this checks only
      // that a failing call fails alone.)
      const calls = Array.from({ length: 20 }, (_, n) => (n === 10 ? [hostIds[n]!, poisonId] : [hostIds[n]!]));
      const settled = await Promise.allSettled(calls.map((ids, n) => store.jobs.schedule(ids, creator, audit(100 + n))));
      expect(settled[10]).toMatchObject({ status: 'rejected' });
      expect(String((settled[10] as PromiseRejectedResult).reason)).toMatch(/poisoned host/);
      expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(19);
      const queued = await sqlOf(store).query<{ host_id: string }>(`SELECT host_id FROM host_scans WHERE status = 0`);
      expect(queued.map((r) => r.host_id).sort()).toEqual(calls.filter((_, n) => n !== 10).flat().sort());
      const audited = await sqlOf(store).query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_records WHERE trace_id LIKE 'call-1__'`);
      expect(audited[0]!.n).toBe(19);
    });
  });
}
