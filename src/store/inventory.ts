import type { InventoryChange } from '../inventory/diff';
import type { HostGroup, HostScheduledTask, HostService, HostUser } from '../inventory/model';
import type { Sql } from './db';
import { decodeList, withIds, type ListName } from './snapshot-lists';

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

    /** The newest `limit` snapshots of each host, newest first (first pages of many hosts in one read). */
    async newestOf(hostIds: readonly string[], limit: number): Promise<(SnapshotRecord & { seq: string })[]> {
      if (hostIds.length === 0) return [];
      const rows = await db.query<SnapshotRow & { seq: string }>(
        `SELECT ${SNAPSHOT}, s.seq::text AS seq FROM unnest($1::uuid[]) AS w(id)
         CROSS JOIN LATERAL (SELECT * FROM host_snapshots x WHERE x.host_id = w.id ORDER BY x.seq DESC LIMIT $2) s ${SNAPSHOT_JOINS}
         ORDER BY s.host_id, s.seq DESC`,
        [[...new Set(hostIds)], limit],
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

    users: (snapshotIds: readonly string[]): Promise<SnapshotUser[]> => lists('users', snapshotIds),
    groups: (snapshotIds: readonly string[]): Promise<SnapshotGroup[]> => lists('groups', snapshotIds),
    services: (snapshotIds: readonly string[]): Promise<SnapshotService[]> => lists('services', snapshotIds),
    tasks: (snapshotIds: readonly string[]): Promise<SnapshotTask[]> => lists('tasks', snapshotIds),
    changes: (snapshotIds: readonly string[]) =>
      bySnapshot<{ id: string; changes: InventoryChange[] }, SnapshotChange[]>(
        `SELECT s.id, s.changes FROM unnest($1::uuid[]) WITH ORDINALITY AS w(id, n) JOIN host_snapshots s ON s.id = w.id ORDER BY w.n`,
        snapshotIds,
        (r) => r.changes.map((c) => ({ ...c, snapshotId: r.id })),
      ).then((all) => all.flat()),

    /** The snapshots the given scans recorded, with their differences (those another instance recorded). */
    recordedBy: (scanIds: readonly string[]): Promise<{ hostId: string; snapshotId: string; changes: InventoryChange[] }[]> =>
      bySnapshot<{ id: string; host_id: string; changes: InventoryChange[] }, { hostId: string; snapshotId: string; changes: InventoryChange[] }>(
        `SELECT s.id, s.host_id, s.changes FROM host_snapshots s WHERE s.scan_id = ANY($1::uuid[]) ORDER BY s.seq`,
        scanIds,
        (r) => ({ hostId: r.host_id, snapshotId: r.id, changes: r.changes }),
      ),

    /** The SSH host key each host trusts, its policy, and a different key it presented since (awaiting an Admin). */
    hostKeys: (hostIds: readonly string[]) =>
      bySnapshot<HostKeyRow, HostKeyTrust>(
        `SELECT h.id, h.ssh_trust, h.accept_key_on_first_contact, h.ssh_host_key, h.ssh_host_key_algorithm, h.ssh_host_key_presented
         FROM unnest($1::uuid[]) AS w(id) JOIN hosts h ON h.id = w.id`,
        hostIds,
        (r) => ({ hostId: r.id, trust: r.ssh_trust, acceptOnFirstContact: r.accept_key_on_first_contact, trustedKey: r.ssh_host_key, trustedKeyAlgorithm: r.ssh_host_key_algorithm, presentedKey: r.ssh_host_key_presented }),
      ),

    /** An account as its host's latest snapshot has it (ids are stable across snapshots). */
    userInLatest: (userId: string): Promise<SnapshotUser | null> => inLatest('users', userId),
    groupInLatest: (groupId: string): Promise<SnapshotGroup | null> => inLatest('groups', groupId),

    /** Accounts in the latest snapshots of all hosts, by host and name (REST `GET /User`). */
    async latestUsersPage(offset: number, limit: number): Promise<SnapshotUser[]> {
      // Each snapshot keeps its account count, so only the snapshots the page falls in are read whole.
      const rows = await db.query<ListRow & { before: string }>(
        `SELECT s.id, s.host_id, s.users AS list, w.before::text AS before FROM (
           SELECT s.id, sum(s.user_count) OVER (ORDER BY lower(h.name), h.id) - s.user_count AS before, s.user_count AS n
           FROM hosts h JOIN host_snapshots s ON s.id = h.latest_snapshot_id) w
         JOIN host_snapshots s ON s.id = w.id
         WHERE w.n > 0 AND w.before + w.n > $1 AND w.before < $1::bigint + $2
         ORDER BY w.before`,
        [offset, limit],
      );
      if (rows.length === 0) return [];
      const users = rows.flatMap((r) => withIds('users', r.host_id, r.id, decodeList<'users'>(r.list)));
      const skip = offset - Number(rows[0]!.before);
      return users.slice(skip, skip + limit);
    },
  };

  async function lists<K extends ListName>(list: K, snapshotIds: readonly string[]) {
    const rows = await bySnapshot<ListRow, ListRow>(
      `SELECT s.id, s.host_id, s.${list} AS list FROM unnest($1::uuid[]) WITH ORDINALITY AS w(id, n) JOIN host_snapshots s ON s.id = w.id ORDER BY w.n`,
      snapshotIds,
      (r) => r,
    );
    return rows.flatMap((r) => withIds(list, r.host_id, r.id, decodeList<K>(r.list)));
  }

  async function inLatest<K extends 'users' | 'groups'>(list: K, id: string) {
    const rows = await db.query<ListRow>(
      `SELECT s.id, s.host_id, s.${list} AS list FROM inventory_names n JOIN hosts h ON h.id = n.host_id
       JOIN host_snapshots s ON s.id = h.latest_snapshot_id WHERE n.id = $1`,
      [id],
    );
    const row = rows[0];
    return (row && withIds(list, row.host_id, row.id, decodeList<K>(row.list)).find((item) => item.id === id)) ?? null;
  }
}

/** A snapshot's id and host with one of its lists as stored (see snapshot-lists.ts). */
interface ListRow {
  id: string;
  host_id: string;
  list: Uint8Array;
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
