import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { encodeBackup } from './backup-file';
import { openPglite } from './pglite';

/**
 * A backup of an embedded store no gateway is running on: opened (and locked) here, backed up as the
 * gateway's endpoint would, closed. A running gateway's lock refuses it (error code DATA_DIR_IN_USE).
 */
export async function backupDataDir(dataDir: string): Promise<Buffer> {
  const dir = resolve(dataDir);
  // Opening would create an empty store: a directory without one is an operator's mistake to report.
  if (!existsSync(join(dir, 'pgdata', 'PG_VERSION'))) throw new Error(`DATA_DIR ${dir} holds no embedded store.`);
  const db = await openPglite(dir, pino({ level: 'silent' }));
  try {
    const { manifest, tarball } = await db.backup();
    return encodeBackup(manifest, tarball);
  } finally {
    await db.close();
  }
}
