import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceStartType, UserPrivilege, type InventorySnapshot } from '../src/inventory';
import { ActionFailureReason, ActionStatus, jobState, type Creator } from '../src/model';
import { JOB_CHANNEL, openStore, type Store } from '../src/store';
import { CHANGES_PER_MESSAGE, decodeChanges } from '../src/change-message';
import { MIGRATIONS, migrate } from '../src/store/migrations';
import { pruneAll } from '../src/retention';
import { backends } from './support/backends';
import { sqlOf } from './support/sql';
import { until } from './support/wait';

// One contract, every store: the embedded PGlite store always, PostgreSQL when the machine has it.

const CREATOR: Creator = { subject: 'contract', userName: 'Contract', address: '127.0.0.1' };
const KEY_A = 'SHA256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const KEY_B = 'SHA256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const SNAPSHOT: InventorySnapshot = {
  os: 'Debian GNU/Linux', version: '12', hostName: 'fixture', dnsHostName: null, notes: [],
  users: [
    { name: 'alice', unixId: 1000, unixGroupId: 1000, displayName: 'Alice', homeDirectory: '/home/alice', shell: '/bin/bash', isDisabled: false, disabledReasons: [], privilege: UserPrivilege.Administrator, privilegeReasons: ['member of sudo'] },
    { name: 'root', unixId: 0, unixGroupId: 0, displayName: 'root', homeDirectory: '/root', shell: '/bin/bash', isDisabled: false, disabledReasons: [], privilege: UserPrivilege.SuperUser, privilegeReasons: ['uid 0'] },
  ],
  groups: [{ name: 'sudo', unixId: 27, members: ['alice'] }],
  services: [{ name: 'ssh.service', description: 'OpenSSH server', startType: ServiceStartType.Automatic, unitFileState: 'enabled', userName: null, binaryPathName: '/usr/sbin/sshd -D' }],
  scheduledTasks: [{ name: 'backup', source: 'crontab', taskPath: '/etc/crontab', userName: 'root', schedule: '0 3 * * *', command: '/usr/local/bin/backup' }],
};
const LEASE = 60_000;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`store contract: ${backend.name}`, () => {
    let store: Store;
    let url: string | null;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, url, cleanup } = await backend.open());
    });
    afterAll(() => cleanup());

    const hosts = async (n: number) => {
      const result = await store.hosts.upsert(Array.from({ length: n }, (_, i) => ({ name: `c-${randomUUID()}`, ipAddress: `127.0.3.${i + 1}` })));
      return result.hosts!;
    };
    const scheduleOne = async () => {
      const [h] = await hosts(1);
      const { jobs } = await store.jobs.schedule([h!.id], CREATOR);
      return { host: h!, job: jobs![0]! };
    };
    /** Claim until the given scan is ours (other tests' scans may be queued too). */
    const claimScan = async (scanId: string, owner = 'owner-a') => {
      const { scans } = await store.queue.claim(owner, 1000, LEASE);
      const mine = scans.find((s) => s.id === scanId);
      const others = scans.filter((s) => s.id !== scanId).map((s) => s.id);
      if (others.length) await store.queue.release(owner, others);
      return mine;
    };

    it('upserts hosts by id, else by name, and refuses a name another host has', async () => {
      const id = randomUUID();
      const name = `n-${randomUUID()}`;
      const first = await store.hosts.upsert([{ id, name, sshPort: 22 }]);
      expect(first.hosts![0]).toMatchObject({ id, name, sshPort: 22 });
      const byName = await store.hosts.upsert([{ name: name.toUpperCase(), ipAddress: '127.0.0.5' }]);
      expect(byName.hosts![0]).toMatchObject({ id, name: name.toUpperCase(), ipAddress: '127.0.0.5', sshPort: null });
      const conflict = await store.hosts.upsert([{ id: randomUUID(), name }]);
      expect([...conflict.conflicts!.keys()]).toEqual([0]);
    });

    it('tells which hosts an upsert changed; one that repeats a host changes nothing, not even modifiedAt', async () => {
      const name = `same-${randomUUID()}`;
      const made = await store.hosts.upsert([{ name, ipAddress: '127.0.0.5', sshPort: 22 }]);
      expect(made.changed!.map((h) => h.name)).toEqual([name]);
      const again = await store.hosts.upsert([{ name, ipAddress: '127.0.0.5', sshPort: 22 }]);
      expect(again.changed).toEqual([]);
      expect(again.hosts![0]).toEqual(made.hosts![0]);
      const [moved, kept] = [{ name, ipAddress: '127.0.0.6', sshPort: 22 }, { name: `other-${randomUUID()}` }];
      await store.hosts.upsert([kept]);
      const both = await store.hosts.upsert([moved, kept]);
      expect(both.changed!.map((h) => h.ipAddress)).toEqual(['127.0.0.6']);
      expect(both.hosts).toHaveLength(2);
      // A name differing only in case is a change (the stored spelling follows it).
      expect((await store.hosts.upsert([{ ...moved, name: name.toUpperCase() }])).changed).toHaveLength(1);
    });

    it('prunes audit records older than the cut-off in batches, and only those', async () => {
      const action = `contract.prune-${randomUUID()}`;
      const entry = { action, subject: 'contract', roles: [], address: null, traceId: null, target: null, details: {} };
      await store.audit.append([entry, entry]);
      for (let i = 0; i < 5; i++) {
        await sqlOf(store).query(`INSERT INTO audit_records (at, action, subject, roles, details) VALUES (now() - interval '40 days', $1, 'contract', '[]', '{"old": true}')`, [action]);
      }
      const before = new Date(Date.now() - 30 * 86_400_000);
      const calls: number[] = [];
      for (let n = -1; n !== 0; ) calls.push((n = await store.audit.prune(before, 2)));
      expect(calls).toEqual([2, 2, 1, 0]);
      const left = await store.audit.list({ limit: 10, action });
      expect(left.map((r) => r.details)).toEqual([{}, {}]);
    });

    it('agrees on one host when two writers upsert the same name at once', async () => {
      const name = `race-${randomUUID()}`;
      const [a, b] = await Promise.all([store.hosts.upsert([{ name }]), store.hosts.upsert([{ name, ipAddress: '127.0.0.8' }])]);
      expect(a.hosts![0]!.id).toBe(b.hosts![0]!.id);
    });

    it('agrees on one host when two writers upsert the same id and name at once (two instances seeding one HOSTS_FILE)', async () => {
      // The race needs both inserts in flight together; rounds make it likely on PostgreSQL.
      for (let round = 0; round < 20; round++) {
        const hosts = Array.from({ length: 3 }, () => ({ id: randomUUID(), name: `seed-${randomUUID()}`, ipAddress: '127.0.0.9' }));
        const results = await Promise.all(Array.from({ length: 4 }, () => store.hosts.upsert(hosts)));
        expect(results.map((r) => r.conflicts ?? null)).toEqual(results.map(() => null));
        for (const r of results) expect(r.hosts!.map((h) => h.id)).toEqual(hosts.map((h) => h.id));
      }
    });

    it('schedules one job per host, returns the active job again, and writes nothing for unknown hosts', async () => {
      const [a, b] = await hosts(2);
      const first = await store.jobs.schedule([a!.id, b!.id], CREATOR);
      expect(first.jobs!.map((j) => j.scans[0]!.hostId)).toEqual([a!.id, b!.id]);
      expect(first.jobs![0]).toMatchObject({ createdBy: 'contract', createdByUserName: 'Contract', createdFromAddress: '127.0.0.1', revision: 0 });
      const again = await store.jobs.schedule([b!.id], CREATOR);
      expect(again.jobs![0]!.id).toBe(first.jobs![1]!.id);
      const before = await count('host_scan_jobs');
      const missing = randomUUID();
      expect(await store.jobs.schedule([a!.id, missing], CREATOR)).toEqual({ missing: [missing] });
      expect(await count('host_scan_jobs')).toBe(before);
    });

    it('makes each schedule call a batch of every job it returned, new or not, counted by scan state', async () => {
      const [a, b] = await hosts(2);
      const first = await store.jobs.schedule([a!.id], CREATOR);
      const second = await store.jobs.schedule([a!.id, b!.id], CREATOR);
      expect(second.batchId).not.toBe(first.batchId);
      expect(new Set(await store.batches.jobIds(second.batchId!))).toEqual(new Set(second.jobs!.map((j) => j.id)));
      expect(await store.batches.counts(second.batchId!)).toMatchObject({ total: 2, queued: 2, running: 0, paused: 0, complete: 0, failed: 0, cancelled: 0 });
      await store.jobs.cancel(first.jobs![0]!.id, 'test');
      expect(await store.batches.counts(second.batchId!)).toMatchObject({ total: 2, queued: 1, cancelled: 1 });
      expect(await store.batches.counts(first.batchId!)).toMatchObject({ total: 1, queued: 0, cancelled: 1 });
      expect(await store.batches.counts(randomUUID())).toBeNull();
    });

    it('gives callers that schedule the same hosts at once the same jobs, and leaves no empty job', async () => {
      const some = await hosts(5);
      const ids = some.map((h) => h.id);
      const results = await Promise.all([ids, [...ids].reverse(), ids.slice(2), ids].map((list) => store.jobs.schedule(list, CREATOR)));
      const jobOfHost = new Map<string, string>();
      for (const { jobs } of results) {
        for (const job of jobs!) {
          expect(job.scans).toHaveLength(1);
          const hostId = job.scans[0]!.hostId!;
          expect(jobOfHost.get(hostId) ?? job.id).toBe(job.id);
          jobOfHost.set(hostId, job.id);
        }
      }
      expect(jobOfHost.size).toBe(5);
      const empty = await sqlOf(store).query<{ n: number }>(
        'SELECT count(*)::int AS n FROM host_scan_jobs j WHERE NOT EXISTS (SELECT 1 FROM host_scans s WHERE s.job_id = j.id)',
      );
      expect(empty).toEqual([{ n: 0 }]);
    });

    it('claims a due scan once, marks it Running and leases it by the database clock', async () => {
      const { job } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      const claimed = await claimScan(scanId);
      expect(claimed).toMatchObject({ id: scanId, jobId: job.id, attempts: 1 });
      const [row] = await sqlOf(store).query<{ status: number; lease_owner: string; ahead: number }>(
        `SELECT status, lease_owner, extract(epoch FROM lease_expires_at - now())::float AS ahead FROM host_scans WHERE id = $1`, [scanId]);
      expect(row).toMatchObject({ status: ActionStatus.Running, lease_owner: 'owner-a' });
      expect(row!.ahead).toBeGreaterThan(50);
      const second = await store.queue.claim('owner-b', 1000, LEASE);
      expect(second.scans.map((s) => s.id)).not.toContain(scanId);
      await store.queue.release('owner-b', second.scans.map((s) => s.id));
      const [current] = await store.jobs.getJobs([job.id]);
      expect(current).toMatchObject({ revision: 1, scans: [{ status: ActionStatus.Running, statusDescription: 'Running' }] });
    });

    it('records a result only for the lease holder, and copies it to the host', async () => {
      const { job, host } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      await claimScan(scanId);
      const result = { status: ActionStatus.Complete as const, description: 'Complete: Debian 12', failureReason: ActionFailureReason.NoError, ipAddress: '127.0.0.7', os: 'Debian', version: '12', hostConnected: true };
      expect(await store.queue.finish('intruder', [{ scanId, result }])).toEqual({ jobs: [], recorded: new Set(), claimed: [], inventory: [] });
      const done = await store.queue.finish('owner-a', [{ scanId, result }]);
      expect(done.recorded).toEqual(new Set([scanId]));
      expect(done.jobs).toMatchObject([{ id: job.id, scans: [{ status: ActionStatus.Complete, os: 'Debian', version: '12', ipAddress: '127.0.0.7', hostConnected: true }] }]);
      expect((await store.queue.finish('owner-a', [{ scanId, result }])).jobs).toEqual([]);
      const updated = await store.hosts.get(host.id);
      expect(updated).toMatchObject({ os: 'Debian', version: '12', ipAddress: '127.0.0.7', lastScanStatus: ActionStatus.Complete });
      expect(updated!.lastScanTimeUtc).toBeInstanceOf(Date);
    });

    const inventoryResult = (snapshot: InventorySnapshot, fingerprint: string) => ({
      status: ActionStatus.Complete as const, description: 'Complete', failureReason: ActionFailureReason.NoError, ipAddress: '127.0.0.7',
      os: snapshot.os, version: snapshot.version, hostConnected: true, hostKey: { fingerprint, algorithm: 'ssh-ed25519' }, inventory: snapshot,
    });
    const scanOf = async (hostId: string) => {
      const { jobs } = await store.jobs.schedule([hostId], CREATOR);
      const scanId = jobs![0]!.scans[0]!.id;
      await claimScan(scanId);
      return scanId;
    };

    it('records a credentialed scan with its snapshot, all or nothing, and the differences from the previous one', async () => {
      const { host, job } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      await claimScan(scanId);
      const first = await store.queue.finish('owner-a', [{ scanId, result: inventoryResult(SNAPSHOT, KEY_A) }]);
      expect(first.inventory).toEqual([{ hostId: host.id, snapshotId: expect.any(String), changes: [] }]);
      const [latest] = await store.inventory.latestOf([host.id]);
      expect(latest).toMatchObject({ id: first.inventory[0]!.snapshotId, os: 'Debian GNU/Linux', version: '12', sshHostKey: KEY_A, notes: [] });
      const users = await store.inventory.users([latest!.id]);
      expect(users.map((u) => [u.name, u.privilege, u.isDisabled])).toEqual([['alice', UserPrivilege.Administrator, false], ['root', UserPrivilege.SuperUser, false]]);
      expect((await store.inventory.groups([latest!.id])).map((g) => [g.name, g.members])).toEqual([['sudo', ['alice']]]);
      expect(await store.inventory.userInLatest(users[0]!.id)).toMatchObject({ name: 'alice' });

      const next: InventorySnapshot = {
        ...SNAPSHOT,
        users: [{ ...SNAPSHOT.users[0]!, privilege: UserPrivilege.LinuxUser, privilegeReasons: [] }, SNAPSHOT.users[1]!, { ...SNAPSHOT.users[0]!, name: 'mallory', unixId: 0, privilege: UserPrivilege.SuperUser }],
        services: [],
      };
      const second = await store.queue.finish('owner-a', [{ scanId: await scanOf(host.id), result: inventoryResult(next, KEY_A) }]);
      expect(second.inventory[0]!.changes).toEqual([
        { kind: 'privilege-changed', subject: 'alice', privileged: true, before: 'Administrator', after: 'LinuxUser' },
        { kind: 'account-added', subject: 'mallory', privileged: true, before: null, after: 'SuperUser' },
        { kind: 'service-removed', subject: 'ssh.service', privileged: false, before: null, after: null },
      ]);
      expect((await store.inventory.changes([second.inventory[0]!.snapshotId])).map((c) => c.kind)).toEqual(['privilege-changed', 'account-added', 'service-removed']);
      // Ids are stable across snapshots: the same account keeps its id in the latest one.
      expect((await store.inventory.userInLatest(users[0]!.id))).toMatchObject({ name: 'alice', privilege: UserPrivilege.LinuxUser });
    });

    it('pages the accounts of all latest snapshots by host name then account name, from any offset', async () => {
      const users = (names: string[]) => names.map((name, i) => ({ ...SNAPSHOT.users[0]!, name, unixId: 2000 + i }));
      const made = await store.hosts.upsert(['pg-b', 'PG-a', 'pg-c'].map((name, i) => ({ name: `${name}-${randomUUID()}`, ipAddress: `127.0.4.${i + 1}` })));
      const [b, a, c] = made.hosts!;
      for (const [host, names] of [[a!, ['zed', 'amy']], [b!, []], [c!, ['bob', 'carl', 'al']]] as const) {
        await store.queue.finish('owner-a', [{ scanId: await scanOf(host.id), result: inventoryResult({ ...SNAPSHOT, users: users([...names]) }, KEY_A) }]);
      }
      const all = await store.inventory.latestUsersPage(0, 1000);
      expect(all.filter((u) => u.unixId >= 2000).map((u) => u.name)).toEqual(['amy', 'zed', 'al', 'bob', 'carl']);
      for (let offset = 0; offset <= all.length + 1; offset++) {
        for (const take of [1, 2, 3, 7]) expect((await store.inventory.latestUsersPage(offset, take)).map((u) => u.id)).toEqual(all.slice(offset, offset + take).map((u) => u.id));
      }
    });

    it('keeps the newest snapshots of a host up to the retention, and trusts host keys by the host\'s policy', async () => {
      const [host] = await hosts(1);
      for (let i = 0; i < 12; i++) await store.queue.finish('owner-a', [{ scanId: await scanOf(host!.id), result: inventoryResult(SNAPSHOT, KEY_A) }]);
      expect((await store.inventory.history(host!.id, 100, null))).toHaveLength(10);
      const keys = async () => (await sqlOf(store).query<{ ssh_host_key: string; ssh_host_key_presented: string | null }>('SELECT ssh_host_key, ssh_host_key_presented FROM hosts WHERE id = $1', [host!.id]))[0];
      expect(await keys()).toEqual({ ssh_host_key: KEY_A, ssh_host_key_presented: null });
      // ErrorOnThumbprintMismatch (the default): another key is kept aside for an Admin, the trusted one stays.
      await store.queue.finish('owner-a', [{ scanId: await scanOf(host!.id), result: { ...inventoryResult(SNAPSHOT, KEY_B), inventory: null } }]);
      expect(await keys()).toEqual({ ssh_host_key: KEY_A, ssh_host_key_presented: KEY_B });
      await store.queue.finish('owner-a', [{ scanId: await scanOf(host!.id), result: { ...inventoryResult(SNAPSHOT, KEY_A), inventory: null } }]);
      expect(await keys()).toEqual({ ssh_host_key: KEY_A, ssh_host_key_presented: null });
      // AlwaysTrustIgnoreThumbprint (0): whatever key the scan saw becomes the trusted one, nothing kept aside.
      await store.hosts.upsert([{ id: host!.id, name: host!.name, sshTrust: 0 }]);
      await store.queue.finish('owner-a', [{ scanId: await scanOf(host!.id), result: inventoryResult(SNAPSHOT, KEY_B) }]);
      expect(await keys()).toEqual({ ssh_host_key: KEY_B, ssh_host_key_presented: null });
    });

    it('heartbeats extend held leases and report cancellations', async () => {
      const { job } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      await claimScan(scanId);
      expect((await store.queue.heartbeat('owner-a', [scanId], LEASE)).held).toEqual(new Set([scanId]));
      expect((await store.queue.heartbeat('owner-b', [scanId], LEASE)).held.size).toBe(0);
      const cancel = await store.jobs.cancel(job.id, 'Cancelled by test');
      expect(cancel!.running).toEqual([scanId]);
      expect((await store.queue.heartbeat('owner-a', [scanId], LEASE)).cancelled).toEqual(new Set([scanId]));
    });

    // Found by bench/fairness.ts: a renewal that waited for a result write of the same scans deadlocked
    // with it; PostgreSQL aborted one after a second, and when it was the write, its scans ran again.
    it.runIf(backend.name === 'PostgreSQL')('heartbeats never wait for a scan row another transaction holds, and still count it held', async () => {
      const [a, b] = [(await scheduleOne()).job.scans[0]!.id, (await scheduleOne()).job.scans[0]!.id];
      await claimScan(a);
      await claimScan(b);
      const expiry = async (id: string) => +(await sqlOf(store).query<{ at: Date }>('SELECT lease_expires_at AS at FROM host_scans WHERE id = $1', [id]))[0]!.at;
      const [aBefore, bBefore] = [await expiry(a), await expiry(b)];
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const lockTaken = new Promise<void>((r) => (locked = r));
      const holder = sqlOf(store).transaction(async (tx) => {
        await tx.query('SELECT id FROM host_scans WHERE id = $1 FOR UPDATE', [a]);
        locked();
        await held;
      });
      await lockTaken;
      const beat = store.queue.heartbeat('owner-a', [a, b], LEASE * 2);
      const answered = await Promise.race([beat.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5_000))]);
      release();
      await holder;
      expect(answered, 'the heartbeat answered while the row was locked').toBe(true);
      expect((await beat).held).toEqual(new Set([a, b]));
      expect(await expiry(a)).toBe(aBefore);
      expect(await expiry(b)).toBeGreaterThan(bBefore);
      await store.queue.heartbeat('owner-a', [a], LEASE * 2);
      expect(await expiry(a)).toBeGreaterThan(aBefore);
    });

    // A result write and another transaction taking the same scan rows in opposite orders (a cancel or a
    // pause of a job whose scans are in the write) deadlock; PostgreSQL aborts one. When it is the write, its
    // scans must not run again: the write reports UNAVAILABLE, which the runner sends again, and left nothing.
    it.runIf(backend.name === 'PostgreSQL')('a result write aborted to break a deadlock reports UNAVAILABLE, records nothing, and records all when sent again', async () => {
      const [a, b] = [(await scheduleOne()).job.scans[0]!.id, (await scheduleOne()).job.scans[0]!.id];
      await claimScan(a);
      await claimScan(b);
      // A store of its own whose sessions look for deadlocks after 3 s, while the other transaction waits a
      // minute before it looks: the write is the one PostgreSQL aborts, however slow the machine.
      const writerUrl = new URL(url!);
      writerUrl.searchParams.set('options', '-c deadlock_timeout=3s');
      const writer = await openStore({ databaseUrl: writerUrl.toString(), dataDir: '' });
      try {
        const result = { status: ActionStatus.Complete as const, description: 'Complete', failureReason: ActionFailureReason.NoError, hostConnected: true };
        const results = [a, b].map((scanId) => ({ scanId, result }));
        const sql = sqlOf(store);
        const waiting = async () => (await sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0]!.n;
        let write!: Promise<unknown>;
        const other = sql.transaction(async (tx) => {
          await tx.query(`SET LOCAL deadlock_timeout = '60s'`);
          // The write takes its rows in the order of its results: the first, then the second, held here.
          await tx.query('SELECT id FROM host_scans WHERE id = $1 FOR UPDATE', [b]);
          write = writer.queue.finish('owner-a', results);
          write.catch(() => {});
          await until('the write waits for the row held here', async () => (await waiting()) > 0);
          await tx.query('SELECT id FROM host_scans WHERE id = $1 FOR UPDATE', [a]);
        });
        await other;
        await expect(write).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/deadlock/) });
        const statuses = await sql.query<{ status: number }>('SELECT status FROM host_scans WHERE id = ANY($1::uuid[])', [[a, b]]);
        expect(statuses.map((r) => r.status)).toEqual([ActionStatus.Running, ActionStatus.Running]);
        const again = await writer.queue.finish('owner-a', results);
        expect(again.recorded).toEqual(new Set([a, b]));
      } finally {
        await writer.stop();
      }
    });

    it('cancels queued scans at once', async () => {
      const { job } = await scheduleOne();
      const result = await store.jobs.cancel(job.id, 'Cancelled by test');
      expect(result!.job).toMatchObject({ scans: [{ status: ActionStatus.Cancelled, statusDescription: 'Cancelled by test' }] });
      expect(result!.running).toEqual([]);
      expect(await store.jobs.cancel(randomUUID(), 'x')).toBeNull();
    });

    it('pauses queued scans out of the queue and resumes them; a paused host keeps its job; running ones run on', async () => {
      const { host, job } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      const paused = await store.pausing.pause({ jobId: job.id }, 'Paused by test');
      expect(paused).toMatchObject({ moved: 1, running: 0 });
      expect(paused!.changed[0]!.scans[0]).toMatchObject({ status: ActionStatus.Paused, statusDescription: 'Paused by test' });
      expect(jobState(paused!.changed[0]!.scans).status).toBe(ActionStatus.Paused);
      expect((await store.pausing.pause({ jobId: job.id }, 'again'))!.moved).toBe(0);
      expect(await claimScan(scanId)).toBeUndefined();
      expect((await store.jobs.schedule([host.id], CREATOR)).jobs![0]!.id).toBe(job.id);
      expect((await store.pausing.resume({ jobId: job.id }, 'Queued (resumed)'))!.changed[0]!.scans[0]).toMatchObject({ status: ActionStatus.Queued });
      expect(await claimScan(scanId)).toMatchObject({ id: scanId });
      // Running: flagged, not stopped; handed back or lost, it waits Paused instead of queued.
      expect(await store.pausing.pause({ jobId: job.id }, 'Paused by test')).toMatchObject({ moved: 0, running: 1 });
      const [released] = await store.queue.release('owner-a', [scanId]);
      expect(released!.scans[0]).toMatchObject({ status: ActionStatus.Paused });
      await store.pausing.resume({ jobId: job.id }, 'Queued');
      await claimScan(scanId, 'dying');
      await store.pausing.pause({ jobId: job.id }, 'Paused by test');
      await sqlOf(store).query(`UPDATE host_scans SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [scanId]);
      const [reclaimed] = (await store.queue.reclaimExpired(3, 10_000)).filter((j) => j.id === job.id);
      expect(reclaimed!.scans[0]).toMatchObject({ status: ActionStatus.Paused, statusDescription: expect.stringMatching(/resume retries it/) });
      expect((await store.jobs.cancel(job.id, 'Cancelled by test'))!.job.scans[0]).toMatchObject({ status: ActionStatus.Cancelled });
      expect(await store.pausing.pause({ jobId: randomUUID() }, 'x')).toBeNull();
    });

    it('pauses and resumes every job of a batch', async () => {
      const some = await hosts(3);
      const { jobs, batchId } = await store.jobs.schedule(some.map((h) => h.id), CREATOR);
      expect(await store.pausing.pause({ batchId: batchId! }, 'Paused')).toMatchObject({ moved: 3 });
      expect(await store.batches.counts(batchId!)).toMatchObject({ total: 3, paused: 3, queued: 0 });
      expect((await store.pausing.resume({ batchId: batchId! }, 'Queued'))!.changed.map((j) => j.id).sort()).toEqual(jobs!.map((j) => j.id).sort());
      expect(await store.batches.counts(batchId!)).toMatchObject({ total: 3, paused: 0, queued: 3 });
      expect(await store.pausing.resume({ batchId: randomUUID() }, 'x')).toBeNull();
    });

    it('keeps a job of several scans right when two workers finish its scans at once', async () => {
      const request = (dnsHostName: string) => ({ dnsHostName, ipAddress: '127.0.0.1', os: null, credentialId: null, credentialName: null, platformName: null,
        acceptThumbprintOnFirstDiscovery: null, sshTrustActionType: null, certificateType: null, trustedThumbprint: null, sshPort: null, source: null });
      const made = await store.requests.createJob([request(`m-${randomUUID()}.test`), request(`m-${randomUUID()}.test`)], CREATOR);
      const [a, b] = made.job!.scans;
      expect(await claimScan(a!.id, 'w1')).toBeDefined();
      expect(await claimScan(b!.id, 'w2')).toBeDefined();
      const ended = (status: ActionStatus.Complete | ActionStatus.Failed) => ({ status, description: 'done', failureReason: ActionFailureReason.NoError, hostConnected: true });
      await Promise.all([
        store.queue.finish('w1', [{ scanId: a!.id, result: ended(ActionStatus.Complete) }]),
        store.queue.finish('w2', [{ scanId: b!.id, result: ended(ActionStatus.Failed) }]),
      ]);
      const [job] = await store.jobs.getJobs([made.job!.id]);
      expect(jobState(job!.scans).status).toBe(ActionStatus.CompletedWithErrors);
      const [row] = await sqlOf(store).query<{ status: number }>('SELECT status FROM host_scan_jobs WHERE id = $1', [job!.id]);
      expect(row!.status).toBe(ActionStatus.CompletedWithErrors);
    });

    it('prunes finished jobs past the retention in small batches, keeping running and recent ones', async () => {
      const old = await Promise.all([1, 2, 3].map(() => scheduleOne()));
      const active = await scheduleOne();
      const recent = await scheduleOne();
      for (const { job } of [...old, recent]) await store.jobs.cancel(job.id, 'done');
      const ids = [...old, active].map((o) => o.job.id);
      await sqlOf(store).query(`UPDATE host_scan_jobs SET modified_at = now() - interval '40 days' WHERE id = ANY($1::uuid[])`, [ids]);
      await sqlOf(store).query(`UPDATE host_scan_batches SET created_at = now() - interval '40 days' WHERE id IN (SELECT batch_id FROM host_scan_batch_jobs WHERE job_id = ANY($1::uuid[]))`, [ids]);
      const before = new Date(Date.now() - 30 * 86_400_000);
      const calls: number[] = [];
      const removed = await pruneAll(async (b, n) => { const k = await store.retention.pruneJobs(b, n); calls.push(k); return k; }, before, 2);
      expect(removed).toBeGreaterThanOrEqual(3);
      expect(calls.slice(0, 2)).toEqual([2, calls[1]]);
      expect(calls.every((k) => k <= 2)).toBe(true);
      const left = new Set((await store.jobs.getJobs([...ids, recent.job.id])).map((j) => j.id));
      expect(left).toEqual(new Set([active.job.id, recent.job.id]));
      const orphans = await sqlOf(store).query<{ n: number }>(
        `SELECT count(*)::int AS n FROM host_scan_batches b WHERE NOT EXISTS (SELECT 1 FROM host_scan_batch_jobs m WHERE m.batch_id = b.id) AND b.created_at < $1`, [before]);
      expect(orphans[0]!.n).toBe(0);
    });

    it('reclaims expired leases with backoff, then fails the scan once attempts run out', async () => {
      const { job } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      const expire = () => sqlOf(store).query(`UPDATE host_scans SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [scanId]);
      const makeDue = () => sqlOf(store).query(`UPDATE host_scans SET run_after = now() WHERE id = $1`, [scanId]);
      for (let attempt = 1; attempt <= 2; attempt++) {
        expect(await claimScan(scanId, 'dying')).toMatchObject({ attempts: attempt });
        await expire();
        const reclaimed = await store.queue.reclaimExpired(3, 10_000);
        expect(reclaimed.find((j) => j.id === job.id)!.scans[0]).toMatchObject({ status: ActionStatus.Queued, attempts: attempt });
        expect(await claimScan(scanId)).toBeUndefined();
        await makeDue();
      }
      await claimScan(scanId, 'dying');
      await expire();
      const failed = await store.queue.reclaimExpired(3, 10_000);
      expect(failed.find((j) => j.id === job.id)!.scans[0]).toMatchObject({
        status: ActionStatus.Failed, failureReason: ActionFailureReason.SystemError, attempts: 3,
        statusDescription: expect.stringMatching(/interrupted 3 times/),
      });
    });

    it('records results and claims replacements in one transaction', async () => {
      const { job } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      await claimScan(scanId);
      const next = await scheduleOne();
      const result = { status: ActionStatus.Failed as const, description: 'Failed to connect', failureReason: ActionFailureReason.FailedToConnect, hostConnected: false };
      const settled = await store.queue.finish('owner-a', [{ scanId, result }], { limit: 1000, leaseMs: LEASE });
      expect(settled.recorded).toEqual(new Set([scanId]));
      expect(settled.claimed.map((c) => c.id)).toContain(next.job.scans[0]!.id);
      const byId = new Map(settled.jobs.map((j) => [j.id, j]));
      expect(byId.get(job.id)!.scans[0]).toMatchObject({ status: ActionStatus.Failed, failureReason: ActionFailureReason.FailedToConnect });
      expect(byId.get(next.job.id)!.scans[0]).toMatchObject({ status: ActionStatus.Running });
      await store.queue.release('owner-a', settled.claimed.map((c) => c.id));
    });

    it('hands released leases back without counting the attempt', async () => {
      const { job } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      await claimScan(scanId);
      const [released] = await store.queue.release('owner-a', [scanId]);
      expect(released!.scans[0]).toMatchObject({ status: ActionStatus.Queued, attempts: 0 });
    });

    it('never hands one scan to two concurrent claimers', async () => {
      const all = await hosts(30);
      await store.jobs.schedule(all.map((h) => h.id), CREATOR);
      const [a, b] = await Promise.all([store.queue.claim('para-a', 1000, LEASE), store.queue.claim('para-b', 1000, LEASE)]);
      const ids = [...a.scans, ...b.scans].map((s) => s.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBeGreaterThanOrEqual(30);
      await store.queue.release('para-a', a.scans.map((s) => s.id));
      await store.queue.release('para-b', b.scans.map((s) => s.id));
    });

    it('lists jobs newest first, by status, and finds the latest job of a host', async () => {
      const { job, host } = await scheduleOne();
      expect(await store.jobs.listIds({ limit: 1 })).toEqual([job.id]);
      await store.jobs.cancel(job.id, 'x');
      expect(await store.jobs.listIds({ limit: 1000, status: ActionStatus.Cancelled })).toContain(job.id);
      expect(await store.jobs.listIds({ limit: 1000, status: ActionStatus.Queued })).not.toContain(job.id);
      expect(await store.jobs.listIds({ limit: 1000, beforeSeq: job.seq })).not.toContain(job.id);
      const again = await store.jobs.schedule([host.id], CREATOR);
      expect(await store.jobs.latestIdForHost(host.id)).toBe(again.jobs![0]!.id);
      expect(await store.jobs.latestIdForHost(randomUUID())).toBeNull();
    });

    it('keeps the job row\'s status and revision in step with its scans', async () => {
      const { job, host } = await scheduleOne();
      const stored = async () => (await sqlOf(store).query<{ status: number; revision: number }>('SELECT status, revision FROM host_scan_jobs WHERE id = $1', [job.id]))[0]!;
      expect(await stored()).toEqual({ status: ActionStatus.Queued, revision: 0 });
      await claimScan(job.scans[0]!.id);
      expect(await stored()).toEqual({ status: ActionStatus.Running, revision: 1 });
      const { jobs } = await store.queue.finish('owner-a', [{ scanId: job.scans[0]!.id, result: { status: ActionStatus.Failed, description: 'x', failureReason: ActionFailureReason.FailedToConnect, hostConnected: false } }]);
      expect(await stored()).toEqual({ status: ActionStatus.Failed, revision: 2 });
      expect(jobs.map((j) => [j.id, j.revision, jobState(j.scans).status])).toEqual([[job.id, 2, ActionStatus.Failed]]);
      expect((await store.hosts.get(host.id))!.lastScanStatus).toBe(ActionStatus.Failed);
    });

    it('runs migrations once however often they are applied', async () => {
      await Promise.all([migrate(sqlOf(store)), migrate(sqlOf(store))]);
      expect(await count('schema_migrations')).toBe(MIGRATIONS.length);
    });

    it.runIf(backend.name === 'PostgreSQL')('announces every committed change on the job channel', async () => {
      const { listener, payloads } = await listenToJobs();
      const { job } = await scheduleOne();
      const cancelled = await store.jobs.cancel(job.id, 'x');
      await until('both announcements', () => payloads.length >= 2);
      await listener.end();
      expect(cancelled!.job.revision).toBeGreaterThan(job.revision);
      expect(payloads).toEqual([`${store.origin} ${job.id}:${job.revision}`, `${store.origin} ${job.id}:${cancelled!.job.revision}`]);
    });

    it.runIf(backend.name === 'PostgreSQL')('announces each change with the revision it committed: claim, result, and a schedule of more jobs than one message holds', async () => {
      const { listener, payloads } = await listenToJobs();
      const { job } = await scheduleOne();
      const scanId = job.scans[0]!.id;
      await claimScan(scanId);
      const { jobs } = await store.queue.finish('owner-a', [{ scanId, result: { status: ActionStatus.Failed, description: 'x', failureReason: ActionFailureReason.FailedToConnect, hostConnected: false } }]);
      const many = await hosts(CHANGES_PER_MESSAGE + 1);
      const scheduled = new Set((await store.jobs.schedule(many.map((h) => h.id), CREATOR)).jobs!.map((j) => j.id));
      const ours = () => payloads.map((p) => decodeChanges(p)!).filter((m) => m.origin === store.origin);
      const announced = (id: string) => ours().flatMap((m) => m.changes).filter((c) => c.id === id).map((c) => c.revision);
      await until('every announcement', () => announced(job.id).length === 3 && [...scheduled].every((id) => announced(id).length === 1));
      await listener.end();
      const [stored] = await sqlOf(store).query<{ revision: number }>('SELECT revision FROM host_scan_jobs WHERE id = $1', [job.id]);
      expect(announced(job.id)).toEqual([0, 1, 2]);
      expect([jobs[0]!.revision, stored!.revision]).toEqual([2, 2]);
      expect([...scheduled].map(announced).flat()).toEqual([...scheduled].map(() => 0));
      expect(ours().filter((m) => m.changes.some((c) => scheduled.has(c.id)))).toHaveLength(2);
    });

    it('counts jobs by status, as /metrics reads them', async () => {
      const before = await store.jobs.countByStatus();
      const { job } = await scheduleOne();
      await scheduleOne();
      await store.jobs.cancel(job.id, 'x');
      const after = await store.jobs.countByStatus();
      const delta = (status: number) => (after.get(status) ?? 0) - (before.get(status) ?? 0);
      // Other tests of this file schedule too, but none runs while this one does.
      expect([delta(0), delta(4)]).toEqual([1, 1]);
    });

    it('lists job changes after a (time, id) position in pages, with the database clock', async () => {
      const from = { at: await store.jobs.now(), id: '00000000-0000-0000-0000-000000000000' };
      const [h1, h2, h3] = await hosts(3);
      const { jobs } = await store.jobs.schedule([h1!.id, h2!.id, h3!.id], CREATOR);
      const cancelled = await store.jobs.cancel(jobs![1]!.id, 'x');
      // Pages of two until a short one (other jobs changed meanwhile may show too); a position that lost
      // precision would read the same change again and never get there.
      const seen: { id: string; revision: number; at: number }[] = [];
      let rest = await store.jobs.changesAfter(from, 2);
      for (seen.push(...rest.changes); rest.changes.length === 2 && seen.length < 1000; seen.push(...rest.changes)) rest = await store.jobs.changesAfter(rest.changes[1]!, 2);
      const ours = seen.filter((c) => jobs!.some((j) => j.id === c.id));
      expect(ours.map((c) => c.id).sort()).toEqual(jobs!.map((j) => j.id).sort());
      expect(seen.map((c) => c.at)).toEqual(seen.map((c) => c.at).sort((x, y) => x - y));
      expect(seen.find((c) => c.id === jobs![1]!.id)!.revision).toBe(cancelled!.job.revision);
      expect(rest.now).toBeGreaterThanOrEqual(from.at);
      expect((await store.jobs.changesAfter({ at: rest.now, id: from.id }, 2)).changes.filter((c) => jobs!.some((j) => j.id === c.id))).toEqual([]);
    });

    /** A connection of its own listening on the job channel, and the payloads it has heard. */
    async function listenToJobs() {
      const listener = new pg.Client({ connectionString: url! });
      await listener.connect();
      const payloads: string[] = [];
      listener.on('notification', (n) => payloads.push(n.payload ?? ''));
      await listener.query(`LISTEN ${JOB_CHANNEL}`);
      return { listener, payloads };
    }

    async function count(table: string): Promise<number> {
      return (await sqlOf(store).query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
    }
  });
}
