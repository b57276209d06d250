import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { sqlOf } from './support/sql';
import { adminToken, appToken } from './support/tokens';

const FIELDS = 'id name cron timeZone hostIds namePattern allHosts enabled nextRuns lastRun';
const CREATE = `mutation($s: ScanScheduleInput!) { createScanSchedule(schedule: $s) { ${FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $s: ScanScheduleInput!) { updateScanSchedule(id: $id, schedule: $s) { ${FIELDS} } }`;
const MINUTE = 60_000;
/** The start of a minute at least `minutes` from now: a slot of an every-minute schedule made now. */
const minuteFromNow = (minutes: number) => new Date(Math.floor(Date.now() / MINUTE) * MINUTE + minutes * MINUTE);

async function patternHosts(t: TestGateway, n: number) {
  const prefix = `sched-${randomUUID().slice(0, 8)}`;
  await t.gateway.service.upsertHosts(ADMIN, { hosts: Array.from({ length: n }, (_, i) => ({ name: `${prefix}-${i}`, ipAddress: '127.0.0.1' })) });
  return `${prefix}-*`;
}
const scheduledJobs = async (t: TestGateway, scheduleId: string) =>
  (await sqlOf(t.gateway.store).query<{ n: number }>('SELECT count(*)::int AS n FROM host_scan_jobs WHERE schedule_id = $1', [scheduleId]))[0]!.n;
const firings = async (t: TestGateway, scheduleId: string) =>
  (await sqlOf(t.gateway.store).query<{ n: number }>('SELECT count(*)::int AS n FROM scan_schedule_firings WHERE schedule_id = $1', [scheduleId]))[0]!.n;

describe('schedules through GraphQL, fired by a clock the test holds', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({}, { runner: false, scheduleTicker: false });
  });
  afterAll(() => t.stop());

  it('Admin creates, edits, pauses and deletes; App lists with next runs but may not write', async () => {
    const created = await gql(t.url, adminToken(), CREATE, { s: { name: `nightly-${randomUUID()}`, cron: '0 3 * * *', timeZone: 'Europe/Berlin', allHosts: true } });
    const s = created.body.data.createScanSchedule;
    expect(s).toMatchObject({ cron: '0 3 * * *', allHosts: true, hostIds: null, enabled: true, lastRun: null });
    expect(s.nextRuns).toHaveLength(3);
    expect(new Date(s.nextRuns[1]).getTime() - new Date(s.nextRuns[0]).getTime()).toBeGreaterThanOrEqual(23 * 3600_000);

    const listed = await gql(t.url, appToken(), '{ scanSchedules(nextRuns: 1) { id nextRuns } }');
    expect(listed.body.data.scanSchedules.find((x: any) => x.id === s.id).nextRuns).toHaveLength(1);
    const refused = await gql(t.url, appToken(), CREATE, { s: { name: 'x', cron: '* * * * *', allHosts: true } });
    expect(refused.body.errors[0].extensions.code).toBe('FORBIDDEN');

    const paused = await gql(t.url, adminToken(), UPDATE, { id: s.id, s: { name: s.name, cron: '15 3 * * 1-5', timeZone: 'UTC', namePattern: 'web-*', enabled: false } });
    expect(paused.body.data.updateScanSchedule).toMatchObject({ cron: '15 3 * * 1-5', namePattern: 'web-*', allHosts: false, enabled: false, nextRuns: [] });

    expect((await gql(t.url, adminToken(), 'mutation($id: ID!) { deleteScanSchedule(id: $id) }', { id: s.id })).body.data.deleteScanSchedule).toBe(true);
    const again = await gql(t.url, adminToken(), 'mutation($id: ID!) { deleteScanSchedule(id: $id) }', { id: s.id });
    expect(again.body.errors[0].extensions.code).toBe('NOT_FOUND');
    const audit = await t.gateway.store.audit.list({ limit: 50 });
    expect(audit.filter((r) => r.target === s.id).map((r) => r.action).sort()).toEqual(['schedule.create', 'schedule.remove', 'schedule.update']);
  });

  it("takes the vendor's recurrence instead of a cron expression", async () => {
    const weekly = await gql(t.url, adminToken(), CREATE, {
      s: { name: `weekly-${randomUUID()}`, recurrence: { recurrenceType: 3, hour: 22, minute: 15, dayOfWeek: 5 }, timeZone: 'UTC', allHosts: true },
    });
    expect(weekly.body.data.createScanSchedule.cron).toBe('15 22 * * 5');
    const bad = await gql(t.url, adminToken(), CREATE, { s: { name: 'x', recurrence: { recurrenceType: 0 }, allHosts: true } });
    expect(Object.keys(bad.body.errors[0].extensions.errors)).toEqual(['recurrence']);
  });

  it('refuses bad schedules field by field, writing nothing', async () => {
    const before = (await gql(t.url, adminToken(), '{ scanSchedules { id } }')).body.data.scanSchedules.length;
    const bad = await gql(t.url, adminToken(), CREATE, { s: { name: 'bad', cron: '* * * * * *', timeZone: 'Mars/Olympus', allHosts: true, hostIds: [randomUUID()] } });
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'BAD_INPUT' });
    expect(Object.keys(bad.body.errors[0].extensions.errors).sort()).toEqual(['hosts', 'timeZone']);
    const cron = await gql(t.url, adminToken(), CREATE, { s: { name: 'bad', cron: '61 * * * *', allHosts: true } });
    expect(Object.keys(cron.body.errors[0].extensions.errors)).toEqual(['cron']);
    const name = `dup-${randomUUID()}`;
    await gql(t.url, adminToken(), CREATE, { s: { name, cron: '* * * * *', allHosts: true, enabled: false } });
    const dup = await gql(t.url, adminToken(), CREATE, { s: { name: name.toUpperCase(), cron: '* * * * *', allHosts: true } });
    expect(dup.body.errors[0].extensions.errors).toEqual({ name: ['Another schedule has this name.'] });
    expect((await gql(t.url, adminToken(), '{ scanSchedules { id } }')).body.data.scanSchedules.length).toBe(before + 1);
  });

  it('every minute: each slot fires once, its jobs carrying the schedule id; a paused schedule fires nothing', async () => {
    const namePattern = await patternHosts(t, 2);
    const s = (await gql(t.url, adminToken(), CREATE, { s: { name: `minutely-${randomUUID()}`, cron: '* * * * *', namePattern } })).body.data.createScanSchedule;
    const slot = minuteFromNow(1);
    expect(await t.gateway.schedules.tick(new Date(slot.getTime() + 5_000))).toBe(1);
    expect(await t.gateway.schedules.tick(new Date(slot.getTime() + 30_000))).toBe(0);
    expect(await scheduledJobs(t, s.id)).toBe(2);
    const jobs = await gql(t.url, adminToken(), '{ hostScanJobs(first: 2) { nodes { scheduleId createdByUserName } } }');
    expect(jobs.body.data.hostScanJobs.nodes).toEqual([1, 2].map(() => ({ scheduleId: s.id, createdByUserName: `schedule ${s.name}` })));
    // The next minute fires again (its hosts are still queued, so it gets their jobs back: no new ones).
    expect(await t.gateway.schedules.tick(new Date(slot.getTime() + MINUTE + 1_000))).toBe(1);
    expect(await firings(t, s.id)).toBe(2);
    const listed = (await gql(t.url, appToken(), '{ scanSchedules { id lastRun } }')).body.data.scanSchedules.find((x: any) => x.id === s.id);
    expect(new Date(listed.lastRun)).toEqual(new Date(slot.getTime() + MINUTE));

    await gql(t.url, adminToken(), UPDATE, { id: s.id, s: { name: s.name, cron: '* * * * *', namePattern, enabled: false } });
    expect(await t.gateway.schedules.tick(new Date(slot.getTime() + 2 * MINUTE + 1_000))).toBe(0);
    expect(await firings(t, s.id)).toBe(2);
  });
});

describe('a restart after missed slots', () => {
  it('fires the newest missed slot once at start, and none with SCHEDULE_CATCH_UP=false', { timeout: 60_000 }, async () => {
    const first = await startTestGateway({}, { runner: false, scheduleTicker: false });
    const namePattern = await patternHosts(first, 1);
    const s = (await gql(first.url, adminToken(), CREATE, { s: { name: `hourly-${randomUUID()}`, cron: '0 * * * *', namePattern } })).body.data.createScanSchedule;
    await first.gateway.stop();
    // Down for five and a half hours (by the clock the test hands in).
    const later = new Date(Math.floor(Date.now() / 3600_000) * 3600_000 + 5.5 * 3600_000); // half past an hour: its slot is 30 min old
    const off = await startTestGateway({ SCHEDULE_CATCH_UP: 'false' }, { runner: false, scheduleTicker: false, dataDir: first.dataDir });
    expect(await off.gateway.schedules.tick(later)).toBe(0);
    await off.stop();
    const on = await startTestGateway({}, { runner: false, scheduleTicker: false, dataDir: first.dataDir });
    try {
      expect(await on.gateway.schedules.tick(later)).toBe(1);
      expect(await on.gateway.schedules.tick(new Date(later.getTime() + 1_000))).toBe(0);
      expect(await firings(on, s.id)).toBe(1);
      expect(await scheduledJobs(on, s.id)).toBe(1);
    } finally {
      await on.stop();
    }
  });
});

describe.skipIf(postgresAdminUrl() === null)('two gateways on one PostgreSQL', () => {
  it('fire each slot once between them: one set of jobs per slot', { timeout: 90_000 }, async () => {
    const db = await createDatabase();
    const [a, b] = await Promise.all([0, 1].map(() => startTestGateway({ DATABASE_URL: db.url }, { runner: false, scheduleTicker: false })));
    try {
      const namePattern = await patternHosts(a!, 3);
      const s = (await gql(a!.url, adminToken(), CREATE, { s: { name: `shared-${randomUUID()}`, cron: '* * * * *', namePattern } })).body.data.createScanSchedule;
      const start = minuteFromNow(1);
      for (let i = 0; i < 5; i++) {
        const now = new Date(start.getTime() + i * MINUTE + 2_000);
        const fired = await Promise.all([a!.gateway.schedules.tick(now), b!.gateway.schedules.tick(now)]);
        expect(fired[0]! + fired[1]!, `slot ${i}`).toBe(1);
        // Each slot's hosts end their scans, so the next slot makes a new set of jobs.
        await sqlOf(a!.gateway.store).query(`UPDATE host_scans SET status = 4 WHERE status = 0`);
      }
      expect(await firings(a!, s.id)).toBe(5);
      expect(await scheduledJobs(a!, s.id)).toBe(15);
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
      await db.drop();
    }
  });
});
