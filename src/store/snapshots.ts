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
 * or neither): one row per snapshot, its lists in it (see snapshot-lists.ts), and one statement for the
 * whole batch. Each is compared with the host's previous snapshot (one read for the batch), becomes the
 * host's latest, and all but the newest `kept` snapshots of those hosts are removed.
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
      was && digestOf({ users: was.users, services: was.services, scheduledTasks: was.tasks }, before!.ssh_host_key),
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
  await tx.query(
    `INSERT INTO host_snapshots (id, host_id, scan_id, os, version, host_name, dns_host_name, ssh_host_key, ssh_host_key_algorithm, notes, changes,
       user_count, users, groups, services, tasks)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::jsonb[],
       $12::integer[], $13::bytea[], $14::bytea[], $15::bytea[], $16::bytea[])`,
    [snap((w) => w.id), snap((w) => w.hostId), snap((w) => w.scanId), snap((w) => w.snapshot.os), snap((w) => w.snapshot.version),
      snap((w) => w.snapshot.hostName), snap((w) => w.snapshot.dnsHostName), snap((w) => w.hostKey?.fingerprint ?? null),
      snap((w) => w.hostKey?.algorithm ?? null), snap((w) => JSON.stringify(w.snapshot.notes)), snap((w) => JSON.stringify(w.changes)),
      snap((w) => w.lists.users.length), snap((w) => byteaText(w.stored.users)), snap((w) => byteaText(w.stored.groups)),
      snap((w) => byteaText(w.stored.services)), snap((w) => byteaText(w.stored.tasks))],
  );
  const names = written.flatMap((w) => w.names.map((id) => ({ id, hostId: w.hostId })));
  if (names.length > 0) {
    await tx.query(
      `INSERT INTO inventory_names (id, host_id) SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT (id) DO NOTHING`,
      [names.map((n) => n.id), names.map((n) => n.hostId)],
    );
  }

  await tx.query(
    `UPDATE hosts h SET latest_snapshot_id = v.snapshot_id, modified_at = now()
     FROM unnest($1::uuid[], $2::uuid[]) AS v(host_id, snapshot_id) WHERE h.id = v.host_id`,
    [snap((w) => w.hostId), snap((w) => w.id)],
  );
  await tx.query(
    `DELETE FROM host_snapshots WHERE id IN (
       SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY host_id ORDER BY seq DESC) AS n
                       FROM host_snapshots WHERE host_id = ANY($1::uuid[])) ranked
       WHERE n > $2)`,
    [[...new Set(hostIds)], kept],
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
