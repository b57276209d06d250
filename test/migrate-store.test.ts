import { join } from 'node:path';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store';
import { tableSums } from '../src/store/tables';
import { spawnGateway } from './support/child';
import { runCli } from './support/cli';
import { freshDataDir, startTestGateway } from './support/gateway';
import { call } from './support/http';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { sqlOf, withEmbeddedSql } from './support/sql';
import { adminToken } from './support/tokens';

// Moving to PostgreSQL: an embedded store of 100,000 jobs (and every other table) is copied, verified,
// copied again without change, and served by a gateway on the PostgreSQL URL.

const JOBS = 100_000;
const PASSWORD = 'pw-never-printed';

/** Fill every data table through raw SQL: hosts, credentials (a sealed secret), jobs and their scans, snapshots and their lists, audit records. */
const FILL = `
  INSERT INTO credentials (id, name, kind, username, secret, key_id)
    VALUES (gen_random_uuid(), 'fleet-key', 1, 'root', 'v1.' || encode(sha256('not a real envelope'), 'base64'), 'key-1');
  INSERT INTO hosts (id, name, ip_address, ssh_port, win_rm_port, credential_id, ssh_host_key)
    SELECT gen_random_uuid(), 'migrate-' || i, '127.0.0.1', 22, 5985, CASE WHEN i % 2 = 0 THEN (SELECT id FROM credentials) END, 'SHA256:' || md5(i::text)
    FROM generate_series(1, 1000) i;
  INSERT INTO host_scan_jobs (id, status, created_by, created_by_user_name, created_from_address)
    SELECT gen_random_uuid(), 2, 'loader', 'Loader', '127.0.0.1' FROM generate_series(1, ${JOBS});
  INSERT INTO host_scans (id, job_id, host_id, position, name, ip_address, ssh_port, status, status_description, host_connected, attempts, started_at, finished_at, os)
    SELECT gen_random_uuid(), j.id, h.id, 0, h.name, h.ip_address, 22, 2, 'Complete', true, 1, now() - interval '1 minute', now(), 'Linux'
    FROM (SELECT id, row_number() OVER (ORDER BY seq) % 1000 AS k FROM host_scan_jobs) j
    JOIN (SELECT id, name, ip_address, row_number() OVER (ORDER BY name) - 1 AS k FROM hosts) h USING (k);
  INSERT INTO host_snapshots (id, host_id, os, notes, changes, user_count, users, groups, services, tasks)
    SELECT gen_random_uuid(), id, 'Debian', '["a note"]', '[{"kind": "account-added", "subject": "alice", "privileged": true, "before": null, "after": "Administrator"}]', 1,
      convert_to('[{"name": "alice", "privilege": 2}]', 'UTF8'), convert_to('[{"name": "sudo", "members": ["alice"]}]', 'UTF8'),
      '\\x789c8b8e0500011500b9'::bytea, convert_to('[]', 'UTF8')
    FROM hosts ORDER BY name LIMIT 5;
  INSERT INTO inventory_names (id, host_id) SELECT gen_random_uuid(), host_id FROM host_snapshots;
  UPDATE hosts SET latest_snapshot_id = s.id FROM host_snapshots s WHERE s.host_id = hosts.id;
  INSERT INTO audit_records (action, subject, roles, address, details)
    SELECT 'hosts.upsert', 'loader', '["Admin"]', '127.0.0.1', jsonb_build_object('n', i) FROM generate_series(1, 50) i;
  INSERT INTO host_scan_batches (id, created_by) VALUES ('5e000000-0000-4000-8000-000000000001', 'loader');
  INSERT INTO host_scan_batch_jobs (batch_id, job_id) SELECT '5e000000-0000-4000-8000-000000000001', id FROM host_scan_jobs ORDER BY seq LIMIT 100;
  INSERT INTO scan_schedules (id, name, cron, time_zone, all_hosts) VALUES ('5c000000-0000-4000-8000-000000000001', 'nightly', '0 2 * * *', 'UTC', true);
  INSERT INTO gateway_users (id, login, password_hash, roles) VALUES ('6a000000-0000-4000-8000-000000000001', 'alice', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', '["Admin"]');
  INSERT INTO gateway_apps (id, name, roles, key_prefix, key_hash) VALUES ('6b000000-0000-4000-8000-000000000001', 'ci', '["App"]', 'sgk_00000000', 'x');
  INSERT INTO scan_schedule_firings (schedule_id, slot, batch_id, fired_by) VALUES ('5c000000-0000-4000-8000-000000000001', '2026-11-29T02:00:00Z', '5e000000-0000-4000-8000-000000000001', 'loader');
`;

async function sums(options: { dataDir?: string; url?: string }) {
  const store = await openStore({ databaseUrl: options.url ?? null, dataDir: options.dataDir ?? '' });
  try {
    return await sqlOf(store).transaction((tx) => tableSums(tx));
  } finally {
    await store.stop();
  }
}

/** The tables in a database, read without opening a store (which would migrate it). */
async function tablesIn(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
    return rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

describe.skipIf(!postgresAdminUrl())('migrate-store: the embedded store into PostgreSQL', () => {
  const source = freshDataDir();
  let target: Awaited<ReturnType<typeof createDatabase>>;
  let withPassword: string;
  let jobId: string;
  let hostId: string;
  let expected: unknown;

  beforeAll(async () => {
    target = await createDatabase();
    const url = new URL(target.url);
    url.password = PASSWORD; // the server trusts loopback: a password is sent only if asked, and must never be shown
    withPassword = url.toString();
    const [job] = await withEmbeddedSql(source, async (db) => {
      await db.exec(FILL);
      return db.query<{ id: string; host: string }>(
        'SELECT j.id::text AS id, s.host_id::text AS host FROM host_scan_jobs j JOIN host_scans s ON s.job_id = j.id ORDER BY j.seq DESC LIMIT 1',
      );
    });
    jobId = job!.id;
    hostId = job!.host;
  }, 120_000);

  afterAll(async () => {
    await target?.drop();
    rmSync(source, { recursive: true, force: true });
  });

  it('refuses while a gateway runs on the data directory', async () => {
    const gateway = await startTestGateway({}, { dataDir: source, runner: false });
    try {
      const job = await call(`${gateway.url}/api/v1/HostScanJob/${jobId}`, { token: adminToken() });
      expect(job.status).toBe(200);
      expected = job.json;
      const refused = await runCli('migrate-store', ['--to', withPassword, '--data-dir', source]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/in use by another gateway/);
    } finally {
      await gateway.stop();
    }
    expect(await tablesIn(target.url)).toEqual([]);
  }, 120_000);

  it('copies 100,000 jobs and every other table, verified by rows and checksums, never printing the password', async () => {
    const copied = await runCli('migrate-store', ['--to', withPassword, '--data-dir', source, '--batch', '7000']);
    expect(copied.stderr).toContain(':***@127.0.0.1');
    expect(copied.stderr).not.toContain(PASSWORD);
    expect(copied.stdout).not.toContain(PASSWORD);
    expect(copied.code).toBe(0);
    expect(copied.stdout).toMatch(/copied and verified/);

    const from = await sums({ dataDir: source });
    expect(from.host_scan_jobs!.rows).toBe(JOBS);
    for (const [name, t] of Object.entries(from)) expect({ name, rows: t.rows > 0 }).toEqual({ name, rows: true });
    expect(await sums({ url: target.url })).toEqual(from);
  }, 600_000);

  it('finds the target equal when re-run: nothing written, no duplicates', async () => {
    const before = await sums({ url: target.url });
    const again = await runCli('migrate-store', ['--to', target.url, '--data-dir', source]);
    expect(again.stderr).not.toMatch(/rows\n/);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already held this store/);
    expect(await sums({ url: target.url })).toEqual(before);
  }, 300_000);

  it('is served by a gateway on the PostgreSQL URL: the same job, and new jobs after the copied ones', async () => {
    // The signing key the source's gateway made is sealed with the source's development key: the same key opens it.
    const gateway = await spawnGateway({ DATABASE_URL: target.url, CREDENTIALS_KEY: join(source, 'credentials.key') }, 60_000);
    try {
      const job = await call(`${gateway.url}/api/v1/HostScanJob/${jobId}`, { token: adminToken() });
      expect(job.status).toBe(200);
      expect(job.json).toEqual(expected);
      // Identity columns continue after the copied values: a new job is scheduled, and listed first.
      const scheduled = await call(`${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: [hostId] });
      expect(scheduled.status).toBe(200);
      expect(scheduled.json[0].id).not.toBe(jobId);
      // The server store is backed up with pg_dump: the gateway says so instead of dumping it.
      const backup = await call(`${gateway.url}/api/v1/backup`, { token: adminToken() });
      expect(backup.status).toBe(409);
      expect(backup.json.detail).toMatch(/pg_dump/);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  }, 120_000);

  it('refuses a target that holds different data, changing nothing', async () => {
    const before = await sums({ url: target.url });
    const refused = await runCli('migrate-store', ['--to', target.url, '--data-dir', source]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/holds other data \(in .*host_scan_jobs/);
    expect(await sums({ url: target.url })).toEqual(before);
  }, 300_000);

  it('refuses a store holding a table it does not know, naming it', async () => {
    await withEmbeddedSql(source, (db) => db.exec('CREATE TABLE stray_things (id integer PRIMARY KEY)'));
    const fresh = await createDatabase();
    try {
      const refused = await runCli('migrate-store', ['--to', fresh.url, '--data-dir', source]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/stray_things.*DATA_TABLES/);
      expect(await tablesIn(fresh.url)).toEqual([]);
    } finally {
      await fresh.drop();
    }
  }, 120_000);
});
