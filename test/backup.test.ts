import { randomBytes } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBackup, encodeBackup, type BackupManifest } from '../src/store/backup-file';
import { tableSums } from '../src/store/tables';
import { spawnGateway, type ChildGateway } from './support/child';
import { until } from './support/wait';
import { runCli } from './support/cli';
import { freshDataDir } from './support/gateway';
import { call } from './support/http';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { withEmbeddedSql } from './support/sql';
import { TEST_SECRET, adminToken, appToken } from './support/tokens';

// A backup holds sealed secrets, never the key: the live gateway and the restored ones share CREDENTIALS_KEY.
const KEY = randomBytes(32).toString('base64');

// A backup of a running gateway's embedded store, taken while scans are scheduled and finished, restores
// to a store with the backup point's rows and checksums, and a gateway serves it. Restore refuses what it
// must, changing nothing.

const HOSTS = 80;

/** Rows and checksums of the store in `dataDir` (opened, so no gateway may be running on it). */
const sumsOf = (dataDir: string) => withEmbeddedSql(dataDir, (db) => db.transaction((tx) => tableSums(tx)));


describe('backup and restore of the embedded store', () => {
  const work = mkdtempSync(join(tmpdir(), 'scan-gateway-backup-'));
  const backupFile = join(work, 'live.backup');
  const liveDir = freshDataDir();
  const restoredDir = join(work, 'restored');
  let ssh: TestListener;
  let live: ChildGateway | null = null;
  let manifest: BackupManifest;
  const hostIds = Array.from({ length: HOSTS }, () => randomUUID());

  beforeAll(async () => {
    ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 20 });
    const closed = await closedPort();
    const hostsFile = join(work, 'hosts.json');
    writeFileSync(hostsFile, JSON.stringify(hostIds.map((id, i) => ({ id, name: `backup-${i}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed }))));
    live = await spawnGateway({ CREDENTIALS_KEY: KEY, DATA_DIR: liveDir, HOSTS_FILE: hostsFile, SCAN_CONCURRENCY: '16' });
  }, 60_000);

  afterAll(async () => {
    live?.child.kill('SIGKILL');
    await live?.exited;
    await ssh?.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(liveDir, { recursive: true, force: true });
  });

  it('takes a backup under write load that restores to the backup point and starts as a gateway', async () => {
    // Write load: two clients scheduling scans of random hosts without pause; the scans finish meanwhile.
    let schedules = 0;
    let stop = false;
    const failures: number[] = [];
    const client = async () => {
      while (!stop) {
        const ids = Array.from({ length: 10 }, () => hostIds[Math.floor(Math.random() * HOSTS)]!);
        const res = await call(`${live!.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: [...new Set(ids)] });
        if (res.status !== 200) failures.push(res.status);
        schedules++;
      }
    };
    const load = [client(), client()];
    await until('the load to start', () => schedules >= 20, { timeoutMs: 30_000 });

    const taken = await runCli('backup', ['--out', backupFile, '--gateway', live!.url], { JWT_SECRET: TEST_SECRET });
    // Writes go on after the backup point: the live store moves past what the backup holds.
    const after = schedules;
    await until('writes after the backup', () => schedules >= after + 10, { timeoutMs: 30_000 });
    stop = true;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(taken.stderr).toBe('');
    expect(taken.code).toBe(0);
    expect(taken.stdout).toMatch(/verified/);

    manifest = decodeBackup(readFileSync(backupFile)).manifest;
    expect(manifest.tables.host_scan_jobs!.rows).toBeGreaterThan(0);
    expect(manifest.tables.audit_records!.rows).toBeGreaterThan(0);
    expect(manifest.tables.hosts!.rows).toBeGreaterThanOrEqual(HOSTS);

    const restored = await runCli('restore', [backupFile, '--data-dir', restoredDir]);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(await sumsOf(restoredDir)).toEqual(manifest.tables);

    // The live store went on past the backup point.
    live!.child.kill('SIGTERM');
    await live!.exited;
    live = null;
    const liveSums = await sumsOf(liveDir);
    expect(liveSums.host_scan_jobs!.rows).toBeGreaterThan(manifest.tables.host_scan_jobs!.rows);

    // Finished scans are in the backup: the load's scans completed against the SSH listener.
    const [row] = await withEmbeddedSql(restoredDir, (db) =>
      db.query<{ job_id: string; done: number }>(
        `SELECT (SELECT job_id::text FROM host_scans WHERE status = 2 LIMIT 1) AS job_id, (SELECT count(*)::int FROM host_scans WHERE status = 2) AS done`,
      ),
    );
    expect(row!.done).toBeGreaterThan(0);
    const jobId = row!.job_id;

    const gateway = await spawnGateway({ CREDENTIALS_KEY: KEY, DATA_DIR: restoredDir });
    try {
      const job = await call(`${gateway.url}/api/v1/HostScanJob/${jobId}`, { token: adminToken() });
      expect(job.status).toBe(200);
      expect(job.json.id).toBe(jobId);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  }, 240_000);

  it('refuses to restore into a data directory a gateway is running on, and changes nothing', async () => {
    const gateway = await spawnGateway({ CREDENTIALS_KEY: KEY, DATA_DIR: restoredDir });
    try {
      // The running gateway writes inside pgdata itself (planner statistics a few seconds after start), so
      // "changed nothing" is: the same entries beside pgdata, and pgdata not replaced (a restore renames a new one in).
      const identity = () => ({ entries: readdirSync(restoredDir).sort(), pgdata: statSync(join(restoredDir, 'pgdata')).ino });
      const before = identity();
      const refused = await runCli('restore', [backupFile, '--data-dir', restoredDir, '--force']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/in use by another gateway/);
      expect(identity()).toEqual(before);
      // Offline backup needs the directory too: it says to ask the gateway instead.
      const offline = await runCli('backup', ['--out', join(work, 'offline.backup'), '--data-dir', restoredDir]);
      expect(offline.code).toBe(2);
      expect(offline.stderr).toMatch(/--gateway/);
      expect(existsSync(join(work, 'offline.backup'))).toBe(false);
      expect((await call(`${gateway.url}/api/v1/HostScanJob?take=1`, { token: adminToken() })).status).toBe(200);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  }, 60_000);

  it('refuses a non-empty data directory unless --force, which replaces its store with the backup', async () => {
    // The restored store has moved on (the gateway above started on it); a second restore is refused.
    const target = freshDataDir();
    try {
      const before = await sumsOf(target);
      const refused = await runCli('restore', [backupFile, '--data-dir', target]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/not empty.*--force/);
      expect(await sumsOf(target)).toEqual(before);

      const forced = await runCli('restore', [backupFile, '--data-dir', target, '--force']);
      expect(forced.code).toBe(0);
      expect(await sumsOf(target)).toEqual(manifest.tables);
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  }, 120_000);

  it('verifies the backup before touching anything: missing, not a backup, newer migrations, damaged', async () => {
    const { manifest: m, tarball } = decodeBackup(readFileSync(backupFile));
    const cases: [string, Buffer | null, RegExp][] = [
      ['missing.backup', null, /no such file/],
      ['text.backup', Buffer.from('hello\nworld\n'), /Not a scan gateway backup/],
      ['newer.backup', encodeBackup({ ...m, migrations: [...m.migrations, 999] }, tarball), /newer gateway \(migration 999\)/],
      ['damaged.backup', encodeBackup({ ...m, tables: { ...m.tables, hosts: { ...m.tables.hosts!, checksum: '1' } } }, tarball), /damaged: table\(s\) hosts/],
      ['truncated.backup', encodeBackup(m, tarball.subarray(0, tarball.length >> 1)), /does not open/],
    ];
    for (const [name, bytes, message] of cases) {
      const file = join(work, name);
      if (bytes) writeFileSync(file, bytes);
      const target = join(work, `target-${name}`);
      const result = await runCli('restore', [file, '--data-dir', target]);
      expect({ name, code: result.code, stderr: result.stderr }).toEqual({ name, code: 2, stderr: expect.stringMatching(message) });
      expect(existsSync(target)).toBe(false);
    }
  }, 120_000);

  it('serves backups to Admins only, and backs up a stopped store offline', async () => {
    const gateway = await spawnGateway({ CREDENTIALS_KEY: KEY, DATA_DIR: restoredDir });
    try {
      expect((await call(`${gateway.url}/api/v1/backup`, { token: appToken() })).status).toBe(403);
      expect((await call(`${gateway.url}/api/v1/backup`)).status).toBe(401);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    const file = join(work, 'offline.backup');
    const offline = await runCli('backup', ['--out', file, '--data-dir', restoredDir]);
    expect(offline.stderr).toBe('');
    expect(offline.code).toBe(0);
    expect(decodeBackup(readFileSync(file)).manifest.tables).toEqual(await sumsOf(restoredDir));
    const again = await runCli('backup', ['--out', file, '--data-dir', restoredDir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists/);
  }, 120_000);

  it('refuses to back up a store holding a table whose checksums it does not cover, naming it', async () => {
    await withEmbeddedSql(restoredDir, (db) => db.exec('CREATE TABLE stray_things (id integer PRIMARY KEY)'));
    const file = join(work, 'stray.backup');
    const refused = await runCli('backup', ['--out', file, '--data-dir', restoredDir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/stray_things.*DATA_TABLES/);
    expect(existsSync(file)).toBe(false);
  }, 60_000);
});

