import type { TableSum } from './tables';

/**
 * A backup file: one line of JSON (the manifest), then PGlite's own dump of the data directory
 * (`dumpDataDir`, a gzipped tar) as it stood at the moment the manifest describes. `tail -n +2 FILE | tar tz`
 * lists the tarball with standard tools.
 */
export const BACKUP_FORMAT = 'scan-gateway-backup/1';

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  createdAt: string;
  nodeId: string;
  /** The migration versions the backed-up store had applied. */
  migrations: number[];
  /** Rows and checksum per data table at the backup point (see tables.ts). */
  tables: Record<string, TableSum>;
}

// A manifest is a few kilobytes; a first line longer than this is not one.
const MAX_MANIFEST_BYTES = 64 * 1024;

export function encodeBackup(manifest: BackupManifest, tarball: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${JSON.stringify(manifest)}\n`, 'utf8'), tarball]);
}

/** Split a backup file into its manifest and tarball; throws saying why a file is not a backup. */
export function decodeBackup(file: Buffer): { manifest: BackupManifest; tarball: Buffer } {
  const end = file.subarray(0, MAX_MANIFEST_BYTES).indexOf(0x0a);
  let manifest: Partial<BackupManifest> | null = null;
  if (end > 0) {
    try {
      manifest = JSON.parse(file.subarray(0, end).toString('utf8')) as Partial<BackupManifest>;
    } catch {
      manifest = null;
    }
  }
  if (!manifest || manifest.format !== BACKUP_FORMAT) {
    throw new Error(`Not a scan gateway backup (expected a first line naming the format ${BACKUP_FORMAT}).`);
  }
  if (!Array.isArray(manifest.migrations) || typeof manifest.tables !== 'object' || typeof manifest.nodeId !== 'string') {
    throw new Error('The backup\'s manifest is incomplete (migrations, tables or nodeId missing).');
  }
  const tarball = file.subarray(end + 1);
  // gzip's magic number: the rest must be the compressed tarball dumpDataDir wrote.
  if (tarball.length < 2 || tarball[0] !== 0x1f || tarball[1] !== 0x8b) throw new Error('The backup holds no gzipped data directory after its manifest.');
  return { manifest: manifest as BackupManifest, tarball };
}
