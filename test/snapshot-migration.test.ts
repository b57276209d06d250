import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ServiceStartType, UserPrivilege, type InventorySnapshot } from '../src/inventory';
import { nameId } from '../src/inventory/ids';
import { openStore, type Store } from '../src/store';
import { MIGRATIONS } from '../src/store/migrations';
import { writeSnapshots } from '../src/store/snapshots';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { sqlOf } from './support/sql';

// Migration 12 moves snapshot lists from five per-item tables into the snapshot row. A store written
// before it (migrations 1–11, data in the old tables) must read the same after it, on both stores.

const H1 = randomUUID();
const H2 = randomUUID();
const [OLD, LATEST, EMPTY] = [randomUUID(), randomUUID(), randomUUID()];
const id = (host: string, kind: 'user' | 'group' | 'service' | 'task', name: string) => nameId(host, kind, name);

/** Data as the pre-12 writer left it: ids name-based, optional columns null where the old reader defaulted them. */
const OLD_DATA = `
  INSERT INTO hosts (id, name, ip_address) VALUES ('${H1}', 'alpha', '127.0.0.1'), ('${H2}', 'beta', '127.0.0.2');
  INSERT INTO host_snapshots (id, host_id, os, notes, digest) VALUES
    ('${OLD}', '${H1}', 'Debian', '[]', '{"users": {"gone": {"privilege": 6, "disabled": false}}, "services": [], "tasks": [], "hostKey": null}'),
    ('${LATEST}', '${H1}', 'Debian', '["sudoers unreadable"]', '{"users": {}, "services": [], "tasks": [], "hostKey": null}'),
    ('${EMPTY}', '${H2}', 'Alpine', '[]', '{"users": {}, "services": [], "tasks": [], "hostKey": null}');
  INSERT INTO snapshot_users VALUES
    ('${OLD}', '${id(H1, 'user', 'gone')}', 'gone', NULL, 1001, 1001, NULL, NULL, 6, '[]', false, '[]'),
    ('${LATEST}', '${id(H1, 'user', 'root')}', 'root', 'root', 0, 0, '/root', '/bin/bash', 5, '["uid 0"]', false, '[]'),
    ('${LATEST}', '${id(H1, 'user', 'alice')}', 'alice', NULL, NULL, NULL, NULL, NULL, 1, '["member of sudo"]', true, '["shell /usr/sbin/nologin"]');
  INSERT INTO snapshot_groups VALUES ('${LATEST}', '${id(H1, 'group', 'sudo')}', 'sudo', 27, '["alice"]'), ('${LATEST}', '${id(H1, 'group', 'adm')}', 'adm', NULL, '[]');
  INSERT INTO snapshot_services VALUES ('${LATEST}', '${id(H1, 'service', 'ssh.service')}', 'ssh.service', 'OpenSSH', 2, 'enabled', NULL, '/usr/sbin/sshd -D');
  INSERT INTO snapshot_tasks VALUES ('${LATEST}', '${id(H1, 'task', 'x')}', 'backup', 'crontab', '/etc/crontab', 'root', '0 3 * * *', '/usr/local/bin/backup');
  INSERT INTO snapshot_changes VALUES ('${LATEST}', 0, 'account-added', 'alice', true, NULL, 'Administrator'), ('${LATEST}', 1, 'account-removed', 'gone', false, 'LinuxUser', NULL);
  UPDATE hosts SET latest_snapshot_id = '${LATEST}' WHERE id = '${H1}';
  UPDATE hosts SET latest_snapshot_id = '${EMPTY}' WHERE id = '${H2}';
`;

/** Migrations 1–11 and the old data, through a raw connection (opening a store would migrate to the end). */
async function writeOldStore(exec: (sql: string) => Promise<unknown>): Promise<void> {
  await exec('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
  for (const m of MIGRATIONS.filter((x) => x.version <= 11)) {
    await exec(m.sql);
    await exec(`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, '${m.name.replace(/'/g, "''")}')`);
  }
  await exec(OLD_DATA);
}

const stores = [
  {
    name: 'embedded (PGlite)',
    available: true,
    async open(): Promise<{ store: Store; cleanup(): Promise<void> }> {
      const dir = mkdtempSync(join(tmpdir(), 'snapshot-migration-'));
      const raw = await PGlite.create(join(dir, 'pgdata'));
      await writeOldStore((sql) => raw.exec(sql));
      await raw.close();
      const store = await openStore({ databaseUrl: null, dataDir: dir });
      return { store, cleanup: async () => { await store.stop(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl() !== null,
    async open(): Promise<{ store: Store; cleanup(): Promise<void> }> {
      const db = await createDatabase();
      const raw = new pg.Client({ connectionString: db.url });
      await raw.connect();
      await writeOldStore((sql) => raw.query(sql)).finally(() => raw.end());
      const store = await openStore({ databaseUrl: db.url, dataDir: '' });
      return { store, cleanup: async () => { await store.stop(); await db.drop(); } };
    },
  },
];

for (const backend of stores) {
  describe.skipIf(!backend.available)(`snapshot lists migrate onto the snapshot row: ${backend.name}`, () => {
    it('reads what the old tables held, finds accounts and groups by id, and compares the next snapshot with it', async () => {
      const { store, cleanup } = await backend.open();
      try {
        const inventory = store.inventory;
        expect(await inventory.users([LATEST])).toEqual([
          { id: id(H1, 'user', 'alice'), snapshotId: LATEST, name: 'alice', displayName: '', unixId: -1, unixGroupId: -1, homeDirectory: '', shell: '',
            privilege: UserPrivilege.Administrator, privilegeReasons: ['member of sudo'], isDisabled: true, disabledReasons: ['shell /usr/sbin/nologin'] },
          { id: id(H1, 'user', 'root'), snapshotId: LATEST, name: 'root', displayName: 'root', unixId: 0, unixGroupId: 0, homeDirectory: '/root', shell: '/bin/bash',
            privilege: UserPrivilege.SuperUser, privilegeReasons: ['uid 0'], isDisabled: false, disabledReasons: [] },
        ]);
        expect(await inventory.groups([LATEST])).toEqual([
          { id: id(H1, 'group', 'adm'), snapshotId: LATEST, name: 'adm', unixId: -1, members: [] },
          { id: id(H1, 'group', 'sudo'), snapshotId: LATEST, name: 'sudo', unixId: 27, members: ['alice'] },
        ]);
        expect(await inventory.services([LATEST])).toEqual([{ id: id(H1, 'service', 'ssh.service'), snapshotId: LATEST, name: 'ssh.service', description: 'OpenSSH',
          startType: ServiceStartType.Automatic, unitFileState: 'enabled', userName: null, binaryPathName: '/usr/sbin/sshd -D' }]);
        expect((await inventory.tasks([LATEST])).map((t) => [t.name, t.taskPath, t.userName, t.schedule, t.command])).toEqual([['backup', '/etc/crontab', 'root', '0 3 * * *', '/usr/local/bin/backup']]);
        expect((await inventory.changes([LATEST])).map((c) => [c.kind, c.subject, c.privileged, c.before, c.after])).toEqual([
          ['account-added', 'alice', true, null, 'Administrator'], ['account-removed', 'gone', false, 'LinuxUser', null]]);
        expect(await inventory.users([EMPTY])).toEqual([]);
        expect(await inventory.userInLatest(id(H1, 'user', 'root'))).toMatchObject({ name: 'root', snapshotId: LATEST });
        expect(await inventory.groupInLatest(id(H1, 'group', 'sudo'))).toMatchObject({ name: 'sudo', members: ['alice'] });
        // Only in the older snapshot: known by id, absent from the host's latest.
        expect(await inventory.userInLatest(id(H1, 'user', 'gone'))).toBeNull();
        expect((await inventory.latestUsersPage(1, 10)).map((u) => u.name)).toEqual(['root']);

        const next: InventorySnapshot = {
          os: 'Debian', version: '12', hostName: null, dnsHostName: null, notes: [], groups: [], services: [], scheduledTasks: [],
          users: [{ name: 'root', unixId: 0, unixGroupId: 0, displayName: 'root', homeDirectory: '/root', shell: '/bin/bash', isDisabled: false, disabledReasons: [], privilege: UserPrivilege.SuperUser, privilegeReasons: ['uid 0'] }],
        };
        const [update] = await sqlOf(store).transaction((tx) => writeSnapshots(tx, [{ hostId: H1, scanId: randomUUID(), snapshot: next, hostKey: null }], 10));
        expect(update!.changes.map((c) => [c.kind, c.subject])).toEqual([['account-removed', 'alice'], ['service-removed', 'ssh.service'], ['task-removed', expect.stringContaining('/etc/crontab')]]);
        expect(await inventory.userInLatest(id(H1, 'user', 'alice'))).toBeNull();
        expect(await inventory.userInLatest(id(H1, 'user', 'root'))).toMatchObject({ snapshotId: update!.snapshotId });
      } finally {
        await cleanup();
      }
    }, 60_000);
  });
}
