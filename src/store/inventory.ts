import type { InventoryChange } from '../inventory/diff';
import type { HostGroup, HostScheduledTask, HostService, HostUser } from '../inventory/model';
import type { Sql } from './db';

/** A host's snapshot as stored: what one credentialed scan read, without its lists (read those by id). */
export interface SnapshotRecord {
  id: string;
  hostId: string;
  /** The host's name and address in the inventory (hostName is what the host calls itself). */
  name: string;
  ipAddress: string | null;
  /** The credential the host logs in with now (not necessarily the one this scan used); null for none. */
  credentialId: string | null;
  scanId: string | null;
  /** When the scan that recorded it started. */
  scanStartedAt: Date | null;
  os: string | null;
  version: string | null;
  hostName: string | null;
  dnsHostName: string | null;
  sshHostKey: string | null;
  sshHostKeyAlgorithm: string | null;
  notes: string[];
  createdAt: Date;
}

export type SnapshotUser = HostUser & { id: string; snapshotId: string };
export type SnapshotGroup = HostGroup & { id: string; snapshotId: string };
export type SnapshotService = HostService & { id: string; snapshotId: string };
export type SnapshotTask = HostScheduledTask & { id: string; snapshotId: string };
export type SnapshotChange = InventoryChange & { snapshotId: string };

// Every snapshot read joins its host (h) and the scan that recorded it (sc), for their names and times.
const SNAPSHOT_JOINS = `JOIN hosts h ON h.id = s.host_id LEFT JOIN host_scans sc ON sc.id = s.scan_id`;
const SNAPSHOT = `s.id, s.host_id, h.name AS host_entry_name, h.ip_address AS host_ip, h.credential_id AS host_credential_id, s.scan_id, sc.started_at AS scan_started_at, s.os, s.version, s.host_name, s.dns_host_name, s.ssh_host_key, s.ssh_host_key_algorithm,
  s.notes, s.created_at`;

interface SnapshotRow {
  id: string;
  host_id: string;
  host_entry_name: string;
  host_ip: string | null;
  host_credential_id: string | null;
  scan_id: string | null;
  scan_started_at: Date | null;
  os: string | null;
  version: string | null;
  host_name: string | null;
  dns_host_name: string | null;
  ssh_host_key: string | null;
  ssh_host_key_algorithm: string | null;
  notes: string[];
  created_at: Date;
}

const toSnapshot = (r: SnapshotRow): SnapshotRecord => ({
  id: r.id,
  hostId: r.host_id,
  name: r.host_entry_name,
  ipAddress: r.host_ip,
  credentialId: r.host_credential_id,
  scanId: r.scan_id,
  scanStartedAt: r.scan_started_at,
  os: r.os,
  version: r.version,
  hostName: r.host_name,
  dnsHostName: r.dns_host_name,
  sshHostKey: r.ssh_host_key,
  sshHostKeyAlgorithm: r.ssh_host_key_algorithm,
  notes: r.notes,
  createdAt: r.created_at,
});

/**
 * Reads of the inventory snapshots. Every list read takes many snapshot ids at once, so a page of hosts
 * with their users and groups costs a fixed number of statements whatever its size.
 */
export function createInventoryStore(db: Sql) {
  const bySnapshot = async <R, T>(sql: string, ids: readonly string[], map: (r: R) => T): Promise<T[]> =>
    ids.length === 0 ? [] : (await db.query<R>(sql, [[...new Set(ids)]])).map(map);

  return {
    /** The latest snapshot of each host that has one. */
    latestOf: (hostIds: readonly string[]) =>
      bySnapshot<SnapshotRow, SnapshotRecord>(
        `SELECT ${SNAPSHOT} FROM unnest($1::uuid[]) AS w(id) JOIN hosts h ON h.id = w.id JOIN host_snapshots s ON s.id = h.latest_snapshot_id
         LEFT JOIN host_scans sc ON sc.id = s.scan_id`,
        hostIds,
        toSnapshot,
      ),

    /** Snapshots by id (any host). */
    snapshots: (ids: readonly string[]) =>
      bySnapshot<SnapshotRow, SnapshotRecord>(`SELECT ${SNAPSHOT} FROM unnest($1::uuid[]) AS w(id) JOIN host_snapshots s ON s.id = w.id ${SNAPSHOT_JOINS}`, ids, toSnapshot),

    /** A host's snapshots, newest first, before the one with `beforeSeq` (paging). */
    async history(hostId: string, limit: number, beforeSeq: string | null): Promise<(SnapshotRecord & { seq: string })[]> {
      const rows = await db.query<SnapshotRow & { seq: string }>(
        `SELECT ${SNAPSHOT}, s.seq::text AS seq FROM host_snapshots s ${SNAPSHOT_JOINS}
         WHERE s.host_id = $1 AND ($2::bigint IS NULL OR s.seq < $2::bigint) ORDER BY s.seq DESC LIMIT $3`,
        [hostId, beforeSeq, limit],
      );
      return rows.map((r) => ({ ...toSnapshot(r), seq: r.seq }));
    },

    /** Latest snapshots of all hosts, by host name (REST `GET /Host`). */
    async latestPage(offset: number, limit: number): Promise<SnapshotRecord[]> {
      const rows = await db.query<SnapshotRow>(
        `SELECT ${SNAPSHOT} FROM hosts h JOIN host_snapshots s ON s.id = h.latest_snapshot_id LEFT JOIN host_scans sc ON sc.id = s.scan_id
         ORDER BY lower(h.name), h.id LIMIT $1 OFFSET $2`,
        [limit, offset],
      );
      return rows.map(toSnapshot);
    },

    users: (snapshotIds: readonly string[]) =>
      bySnapshot<UserRow, SnapshotUser>(`SELECT u.* FROM unnest($1::uuid[]) AS w(id) JOIN snapshot_users u ON u.snapshot_id = w.id ORDER BY u.name`, snapshotIds, toUser),
    groups: (snapshotIds: readonly string[]) =>
      bySnapshot<GroupRow, SnapshotGroup>(`SELECT g.* FROM unnest($1::uuid[]) AS w(id) JOIN snapshot_groups g ON g.snapshot_id = w.id ORDER BY g.name`, snapshotIds, toGroup),
    services: (snapshotIds: readonly string[]) =>
      bySnapshot<ServiceRow, SnapshotService>(`SELECT v.* FROM unnest($1::uuid[]) AS w(id) JOIN snapshot_services v ON v.snapshot_id = w.id ORDER BY v.name`, snapshotIds, toService),
    tasks: (snapshotIds: readonly string[]) =>
      bySnapshot<TaskRow, SnapshotTask>(`SELECT t.* FROM unnest($1::uuid[]) AS w(id) JOIN snapshot_tasks t ON t.snapshot_id = w.id ORDER BY t.task_path, t.name`, snapshotIds, toTask),
    changes: (snapshotIds: readonly string[]) =>
      bySnapshot<ChangeRow, SnapshotChange>(`SELECT c.* FROM unnest($1::uuid[]) AS w(id) JOIN snapshot_changes c ON c.snapshot_id = w.id ORDER BY c.position`, snapshotIds, toChange),

    /** The SSH host key each host trusts, its policy, and a different key it presented since (awaiting an Admin). */
    hostKeys: (hostIds: readonly string[]) =>
      bySnapshot<HostKeyRow, HostKeyTrust>(
        `SELECT h.id, h.ssh_trust, h.accept_key_on_first_contact, h.ssh_host_key, h.ssh_host_key_algorithm, h.ssh_host_key_presented
         FROM unnest($1::uuid[]) AS w(id) JOIN hosts h ON h.id = w.id`,
        hostIds,
        (r) => ({ hostId: r.id, trust: r.ssh_trust, acceptOnFirstContact: r.accept_key_on_first_contact, trustedKey: r.ssh_host_key, trustedKeyAlgorithm: r.ssh_host_key_algorithm, presentedKey: r.ssh_host_key_presented }),
      ),

    /** An account as its host's latest snapshot has it (ids are stable across snapshots). */
    async userInLatest(userId: string): Promise<SnapshotUser | null> {
      const rows = await db.query<UserRow>(
        `SELECT u.* FROM snapshot_users u JOIN hosts h ON h.latest_snapshot_id = u.snapshot_id WHERE u.id = $1`,
        [userId],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },

    async groupInLatest(groupId: string): Promise<SnapshotGroup | null> {
      const rows = await db.query<GroupRow>(
        `SELECT g.* FROM snapshot_groups g JOIN hosts h ON h.latest_snapshot_id = g.snapshot_id WHERE g.id = $1`,
        [groupId],
      );
      return rows[0] ? toGroup(rows[0]) : null;
    },

    /** Accounts in the latest snapshots of all hosts, by host and name (REST `GET /User`). */
    async latestUsersPage(offset: number, limit: number): Promise<SnapshotUser[]> {
      const rows = await db.query<UserRow>(
        `SELECT u.* FROM hosts h JOIN snapshot_users u ON u.snapshot_id = h.latest_snapshot_id
         ORDER BY lower(h.name), h.id, u.name LIMIT $1 OFFSET $2`,
        [limit, offset],
      );
      return rows.map(toUser);
    },
  };
}

export type InventoryStore = ReturnType<typeof createInventoryStore>;

/** How a host's SSH host key is trusted (SshTrustAction in inventory/model.ts). */
export interface HostKeyTrust {
  hostId: string;
  trust: number;
  acceptOnFirstContact: boolean;
  /** The trusted SHA-256 fingerprint; null before first contact. */
  trustedKey: string | null;
  trustedKeyAlgorithm: string | null;
  /** A different key the host presented that its policy did not trust; null when none. */
  presentedKey: string | null;
}

interface HostKeyRow {
  id: string;
  ssh_trust: number;
  accept_key_on_first_contact: boolean;
  ssh_host_key: string | null;
  ssh_host_key_algorithm: string | null;
  ssh_host_key_presented: string | null;
}

interface UserRow {
  snapshot_id: string;
  id: string;
  name: string;
  display_name: string | null;
  unix_id: number | null;
  unix_group_id: number | null;
  home_directory: string | null;
  shell: string | null;
  privilege: number;
  privilege_reasons: string[];
  is_disabled: boolean;
  disabled_reasons: string[];
}

const toUser = (r: UserRow): SnapshotUser => ({
  snapshotId: r.snapshot_id,
  id: r.id,
  name: r.name,
  displayName: r.display_name ?? '',
  unixId: r.unix_id ?? -1,
  unixGroupId: r.unix_group_id ?? -1,
  homeDirectory: r.home_directory ?? '',
  shell: r.shell ?? '',
  privilege: r.privilege,
  privilegeReasons: r.privilege_reasons,
  isDisabled: r.is_disabled,
  disabledReasons: r.disabled_reasons,
});

interface GroupRow {
  snapshot_id: string;
  id: string;
  name: string;
  unix_id: number | null;
  members: string[];
}

const toGroup = (r: GroupRow): SnapshotGroup => ({ snapshotId: r.snapshot_id, id: r.id, name: r.name, unixId: r.unix_id ?? -1, members: r.members });

interface ServiceRow {
  snapshot_id: string;
  id: string;
  name: string;
  description: string | null;
  start_type: number;
  unit_file_state: string;
  user_name: string | null;
  binary_path_name: string | null;
}

const toService = (r: ServiceRow): SnapshotService => ({
  snapshotId: r.snapshot_id,
  id: r.id,
  name: r.name,
  description: r.description,
  startType: r.start_type,
  unitFileState: r.unit_file_state,
  userName: r.user_name,
  binaryPathName: r.binary_path_name,
});

interface TaskRow {
  snapshot_id: string;
  id: string;
  name: string;
  source: HostScheduledTask['source'];
  task_path: string;
  user_name: string | null;
  schedule: string;
  command: string;
}

const toTask = (r: TaskRow): SnapshotTask => ({
  snapshotId: r.snapshot_id,
  id: r.id,
  name: r.name,
  source: r.source,
  taskPath: r.task_path,
  userName: r.user_name,
  schedule: r.schedule,
  command: r.command,
});

interface ChangeRow {
  snapshot_id: string;
  kind: InventoryChange['kind'];
  subject: string;
  privileged: boolean;
  before: string | null;
  after: string | null;
}

const toChange = (r: ChangeRow): SnapshotChange => ({
  snapshotId: r.snapshot_id,
  kind: r.kind,
  subject: r.subject,
  privileged: r.privileged,
  before: r.before,
  after: r.after,
});
