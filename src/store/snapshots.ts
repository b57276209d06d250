import { randomUUID } from 'node:crypto';
import { diffSnapshots, digestOf, type InventoryChange } from '../inventory/diff';
import { nameId } from '../inventory/ids';
import type { InventorySnapshot } from '../inventory/model';
import type { Queryable } from './db';
import { byteaText, encodeList, previousLists, sortedLists } from './snapshot-lists';

/** A snapshot to record: what one credentialed scan of a host read. */
export interface SnapshotEntry {
  hostId: string;
  scanId: string;
  snapshot: InventorySnapshot;
  hostKey: { fingerprint: string; algorithm: string } | null;
}

/** What recording a snapshot changed: its id and the differences from the host's previous one. */
export interface InventoryUpdate {
  hostId: string;
  snapshotId: string;
  changes: InventoryChange[];
}

/**
 * Record snapshots inside the caller's transaction (the scan's result and its snapshot commit together,
 * or neither): one row per snapshot, its lists in it (see snapshot-lists.ts). Each is compared with the
 * host's previous snapshot (one read for the batch), then written, made the host's latest, and all but the
 * newest `kept` snapshots of those hosts removed, in one statement for the whole batch.
 */
export async function writeSnapshots(tx: Queryable, entries: readonly SnapshotEntry[], kept: number): Promise<InventoryUpdate[]> {
  if (entries.length === 0) return [];
  const hostIds = entries.map((e) => e.hostId);
  const previous = new Map(
    (await tx.query<PreviousRow>(
      `SELECT h.id AS host_id, s.ssh_host_key, s.users, s.groups, s.services, s.tasks
       FROM unnest($1::uuid[]) AS w(id) JOIN hosts h ON h.id = w.id JOIN host_snapshots s ON s.id = h.latest_snapshot_id`,
      [hostIds],
    )).map((r) => [r.host_id, r]),
  );
  const written = entries.map((e) => {
    const lists = sortedLists(e.snapshot);
    const stored = { users: encodeList(lists.users), groups: encodeList(lists.groups), services: encodeList(lists.services), tasks: encodeList(lists.tasks) };
    const before = previous.get(e.hostId);
    const was = before ? previousLists(before, lists, stored) : null;
    const changes = diffSnapshots(
      before && was ? digestOf({ users: was.users, services: was.services, scheduledTasks: was.tasks }, before.ssh_host_key) : null,
      digestOf(e.snapshot, e.hostKey?.fingerprint ?? null),
    );
    // The by-id routes find an account or group through inventory_names; only names it cannot know yet go in.
    const known = new Set([...(was?.users ?? []).map((u) => `user:${u.name}`), ...(was?.groups ?? []).map((g) => `group:${g.name}`)]);
    const names = [
      ...lists.users.filter((u) => !known.has(`user:${u.name}`)).map((u) => nameId(e.hostId, 'user', u.name)),
      ...lists.groups.filter((g) => !known.has(`group:${g.name}`)).map((g) => nameId(e.hostId, 'group', g.name)),
    ];
    return { ...e, id: randomUUID(), lists, stored, changes, names };
  });

  const snap = (pick: (w: (typeof written)[number]) => unknown) => written.map(pick);
  const names = written.flatMap((w) => w.names.map((id) => ({ id, hostId: w.hostId })));
  // One statement: each statement is a round trip, and on the embedded store a turn of its thread. Its
  // parts see the table as it was before it, so the retention counts this batch's new snapshots (c.m).
  await tx.query(
    `WITH v AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[],
         $11::jsonb[], $12::integer[], $13::bytea[], $14::bytea[], $15::bytea[], $16::bytea[])
         AS v(id, host_id, scan_id, os, version, host_name, dns_host_name, ssh_host_key, ssh_host_key_algorithm, notes, changes, user_count, users, groups, services, tasks)),
     added AS (
       INSERT INTO host_snapshots (id, host_id, scan_id, os, version, host_name, dns_host_name, ssh_host_key, ssh_host_key_algorithm, notes, changes,
         user_count, users, groups, services, tasks)
       SELECT * FROM v),
     named AS (
       INSERT INTO inventory_names (id, host_id) SELECT * FROM unnest($17::uuid[], $18::uuid[]) ON CONFLICT (id) DO NOTHING),
     latest AS (
       UPDATE hosts h SET latest_snapshot_id = v.id, modified_at = now() FROM v WHERE h.id = v.host_id)
     DELETE FROM host_snapshots WHERE id IN (
       SELECT r.id FROM (SELECT id, host_id, row_number() OVER (PARTITION BY host_id ORDER BY seq DESC) AS n
                         FROM host_snapshots WHERE host_id IN (SELECT host_id FROM v)) r
       JOIN (SELECT host_id, count(*) AS m FROM v GROUP BY host_id) c ON c.host_id = r.host_id
       WHERE r.n > $19::int - c.m)`,
    [snap((w) => w.id), snap((w) => w.hostId), snap((w) => w.scanId), snap((w) => w.snapshot.os), snap((w) => w.snapshot.version),
      snap((w) => w.snapshot.hostName), snap((w) => w.snapshot.dnsHostName), snap((w) => w.hostKey?.fingerprint ?? null),
      snap((w) => w.hostKey?.algorithm ?? null), snap((w) => JSON.stringify(w.snapshot.notes)), snap((w) => JSON.stringify(w.changes)),
      snap((w) => w.lists.users.length), snap((w) => byteaText(w.stored.users)), snap((w) => byteaText(w.stored.groups)),
      snap((w) => byteaText(w.stored.services)), snap((w) => byteaText(w.stored.tasks)),
      names.map((n) => n.id), names.map((n) => n.hostId), kept],
  );
  return written.map((w) => ({ hostId: w.hostId, snapshotId: w.id, changes: w.changes }));
}

interface PreviousRow {
  host_id: string;
  ssh_host_key: string | null;
  users: Uint8Array;
  groups: Uint8Array;
  services: Uint8Array;
  tasks: Uint8Array;
}
