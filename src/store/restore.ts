import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { decodeBackup, type BackupManifest } from './backup-file';
import { lockDataDir } from './dir-lock';
import { MIGRATIONS } from './migrations';
import { appliedVersions, checkTables, differingTables, tableSums } from './tables';

/**
 * Check a backup file whole before anything is touched: its format, that this gateway knows every
 * migration it was made at, and that the data directory it carries opens (in memory, here) and holds the
 * tables, migrations and checksums its manifest names. Resolves to the manifest; throws saying what is wrong.
 */
export async function verifyBackup(file: Buffer): Promise<BackupManifest> {
  const { manifest, tarball } = decodeBackup(file);
  const known = new Map(MIGRATIONS.map((m) => [m.version, m]));
  const unknown = manifest.migrations.filter((v) => !known.has(v));
  if (unknown.length) {
    throw new Error(`The backup was made by a newer gateway (migration ${unknown.join(', ')}); this one knows migrations up to ${MIGRATIONS.at(-1)!.version}. Restore it with that version or later.`);
  }
  let db: PGlite;
  try {
    db = await PGlite.create({ loadDataDir: gzipBlob(tarball) });
  } catch (err) {
    throw new Error(`The backup's data directory does not open: ${(err as Error).message}`);
  }
  try {
    await db.transaction(async (tx) => {
      const q = { query: async <T>(sql: string) => (await tx.query<T>(sql)).rows, exec: async (sql: string) => void (await tx.exec(sql)) };
      await checkTables(q);
      const versions = await appliedVersions(q);
      if (versions.join() !== manifest.migrations.join()) throw new Error(`The backup's data directory is at migrations ${versions.join(', ')}, not ${manifest.migrations.join(', ')} as its manifest says.`);
      const differ = differingTables(manifest.tables, await tableSums(q));
      if (differ.length) throw new Error(`The backup is damaged: table(s) ${differ.join(', ')} do not match the checksums in its manifest.`);
    });
  } finally {
    await db.close();
  }
  return manifest;
}

/**
 * Restore a verified backup into `dataDir`. Refuses a data directory a gateway holds (its lock), and one
 * that already has a store unless `force` (then the old store is replaced, only once the new one is in
 * place beside it). Nothing changes when it refuses or the backup fails verification.
 */
export async function restoreBackup(file: Buffer, dataDir: string, options: { force?: boolean } = {}): Promise<BackupManifest> {
  const manifest = await verifyBackup(file);
  const dir = resolve(dataDir);
  const created = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  let release;
  try {
    release = await lockDataDir(dir);
  } catch (err) {
    if (created) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const target = join(dir, 'pgdata');
  const staging = join(dir, 'pgdata.restoring');
  try {
    const present = readdirSync(dir).filter((name) => name !== 'gateway.lock');
    if (present.length && !options.force) {
      throw new Error(`DATA_DIR ${dir} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}); restore into an empty directory, or pass --force to replace the store in it.`);
    }
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging);
    // PGlite writes the tarball into an empty directory itself when it opens it (`loadDataDir`).
    const db = await PGlite.create(staging, { loadDataDir: gzipBlob(decodeBackup(file).tarball) });
    await db.close();
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  } finally {
    await release();
  }
  return manifest;
}

// PGlite gunzips a tarball it is given when the blob says it is gzip.
const gzipBlob = (tarball: Buffer) => new Blob([tarball], { type: 'application/x-gzip' });
