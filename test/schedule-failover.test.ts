import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway, type ChildGateway } from './support/child';
import { gql } from './support/graphql';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { adminToken } from './support/tokens';

/** Poll a query until its first row's `n` passes `test`. */
async function until(client: pg.Client, sql: string, params: unknown[], test: (n: number) => boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = (await client.query<{ n: number }>(sql, params)).rows[0]!.n;
    if (test(n)) return n;
    if (Date.now() > deadline) throw new Error(`${what}: still ${n} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!postgresAdminUrl())('a gateway killed (kill -9) in the middle of a firing', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('leaves no claim behind: the other gateway fires the slot, once', { timeout: 120_000 }, async () => {
    const db = await createDatabase();
    cleanup.push(() => db.drop());
    const env = { DATABASE_URL: db.url, SCHEDULE_TICK_MS: '200' };
    const children: ChildGateway[] = [];
    cleanup.push(() => Promise.all(children.map((c) => { c.child.kill('SIGKILL'); return c.exited; })));
    const a = await spawnGateway(env);
    children.push(a);

    const prefix = `fo-${randomUUID().slice(0, 8)}`;
    const hosts = [0, 1, 2].map((i) => ({ name: `${prefix}-${i}`, ipAddress: '127.0.0.1' }));
    expect((await gql(a.url, adminToken(), 'mutation($h: [HostInput!]!) { upsertHosts(hosts: $h) { id } }', { h: hosts })).body.errors).toBeUndefined();
    const created = await gql(a.url, adminToken(), 'mutation($s: ScanScheduleInput!) { createScanSchedule(schedule: $s) { id } }', {
      s: { name: `hourly-${prefix}`, cron: '0 * * * *', namePattern: `${prefix}-*` },
    });
    const scheduleId = created.body.data.createScanSchedule.id as string;

    // Hold these hosts' rows so a firing stops half-way: after its claim, before its jobs (it reads them FOR SHARE).
    const holder = new pg.Client({ connectionString: db.url });
    const watcher = new pg.Client({ connectionString: db.url });
    await Promise.all([holder.connect(), watcher.connect()]);
    cleanup.push(() => Promise.all([holder.end(), watcher.end()]));
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM hosts WHERE name LIKE $1 FOR UPDATE', [`${prefix}-%`]);
    // The schedule has existed for hours (a slot was missed): the gateway fires the newest slot now.
    await watcher.query(`UPDATE scan_schedules SET fire_after = now() - interval '3 hours' WHERE id = $1`, [scheduleId]);
    const blocked = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`;
    await until(watcher, blocked, [], (n) => n >= 1, 'gateway A waiting in its firing');

    const b = await spawnGateway(env);
    children.push(b);
    // B's firing of the same slot waits on A's uncommitted claim.
    await until(watcher, blocked, [], (n) => n >= 2, 'gateway B waiting behind A');
    a.child.kill('SIGKILL');
    await a.exited;
    await holder.query('COMMIT');

    const firings = `SELECT count(*)::int AS n FROM scan_schedule_firings WHERE schedule_id = $1 AND batch_id IS NOT NULL`;
    await until(watcher, firings, [scheduleId], (n) => n >= 1, 'the slot fired');
    const jobs = await watcher.query<{ n: number }>('SELECT count(*)::int AS n FROM host_scan_jobs WHERE schedule_id = $1', [scheduleId]);
    expect(jobs.rows[0]!.n).toBe(3);
    const rows = await watcher.query<{ fired_by: string }>('SELECT fired_by FROM scan_schedule_firings WHERE schedule_id = $1', [scheduleId]);
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0]!.fired_by).toMatch(new RegExp(`^${b.child.pid}-`));
  });
});
