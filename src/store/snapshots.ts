import { randomUUID } from 'node:crypto';
import { diffSnapshots, digestOf, taskKey, type InventoryChange, type SnapshotDigest } from '../inventory/diff';
import { nameId } from '../inventory/ids';
import type { InventorySnapshot } from '../inventory/model';
import type { Queryable } from './db';

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
 * or neither): one statement per table for the whole batch, whatever the number of hosts and rows. Each
 * is compared with the host's previous snapshot (its digest, one read for the batch), becomes the host's
 * latest, and all but the newest `kept` snapshots of those hosts are removed.
 */
export async function writeSnapshots(tx: Queryable, entries: readonly SnapshotEntry[], kept: number): Promise<InventoryUpdate[]> {
  if (entries.length === 0) return [];
  const hostIds = entries.map((e) => e.hostId);
  const previous = new Map(
    (await tx.query<{ host_id: string; digest: SnapshotDigest }>(
      `SELECT h.id AS host_id, s.digest FROM unnest($1::uuid[]) AS w(id) JOIN hosts h ON h.id = w.id
       JOIN host_snapshots s ON s.id = h.latest_snapshot_id`,
      [hostIds],
    )).map((r) => [r.host_id, r.digest]),
  );
  const written = entries.map((e) => {
    const digest = digestOf(e.snapshot, e.hostKey?.fingerprint ?? null);
    return { ...e, id: randomUUID(), digest, changes: diffSnapshots(previous.get(e.hostId) ?? null, digest) };
  });

  const snap = (pick: (w: (typeof written)[number]) => unknown) => written.map(pick);
  await tx.query(
    `INSERT INTO host_snapshots (id, host_id, scan_id, os, version, host_name, dns_host_name, ssh_host_key, ssh_host_key_algorithm, notes, digest)
     SELECT v.id, v.host_id, v.scan_id, v.os, v.version, v.host_name, v.dns, v.key, v.alg, v.notes, v.digest
     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::jsonb[])
       AS v(id, host_id, scan_id, os, version, host_name, dns, key, alg, notes, digest)`,
    [snap((w) => w.id), snap((w) => w.hostId), snap((w) => w.scanId), snap((w) => w.snapshot.os), snap((w) => w.snapshot.version),
      snap((w) => w.snapshot.hostName), snap((w) => w.snapshot.dnsHostName), snap((w) => w.hostKey?.fingerprint ?? null),
      snap((w) => w.hostKey?.algorithm ?? null), snap((w) => JSON.stringify(w.snapshot.notes)), snap((w) => JSON.stringify(w.digest))],
  );

  const rows = <T>(pick: (w: (typeof written)[number]) => T[]) => written.flatMap((w) => pick(w).map((item) => ({ w, item })));
  const users = rows((w) => w.snapshot.users);
  await insert(tx, 'snapshot_users', 'snapshot_id, id, name, display_name, unix_id, unix_group_id, home_directory, shell, privilege, privilege_reasons, is_disabled, disabled_reasons',
    'uuid, uuid, text, text, integer, integer, text, text, smallint, jsonb, boolean, jsonb', users.length, [
      users.map(({ w }) => w.id), users.map(({ w, item }) => nameId(w.hostId, 'user', item.name)), users.map(({ item }) => item.name),
      users.map(({ item }) => item.displayName), users.map(({ item }) => item.unixId), users.map(({ item }) => item.unixGroupId),
      users.map(({ item }) => item.homeDirectory), users.map(({ item }) => item.shell), users.map(({ item }) => item.privilege),
      users.map(({ item }) => JSON.stringify(item.privilegeReasons)), users.map(({ item }) => item.isDisabled), users.map(({ item }) => JSON.stringify(item.disabledReasons)),
    ]);
  const groups = rows((w) => w.snapshot.groups);
  await insert(tx, 'snapshot_groups', 'snapshot_id, id, name, unix_id, members', 'uuid, uuid, text, integer, jsonb', groups.length, [
    groups.map(({ w }) => w.id), groups.map(({ w, item }) => nameId(w.hostId, 'group', item.name)), groups.map(({ item }) => item.name),
    groups.map(({ item }) => item.unixId), groups.map(({ item }) => JSON.stringify(item.members)),
  ]);
  const services = rows((w) => w.snapshot.services);
  await insert(tx, 'snapshot_services', 'snapshot_id, id, name, description, start_type, unit_file_state, user_name, binary_path_name',
    'uuid, uuid, text, text, smallint, text, text, text', services.length, [
      services.map(({ w }) => w.id), services.map(({ w, item }) => nameId(w.hostId, 'service', item.name)), services.map(({ item }) => item.name),
      services.map(({ item }) => item.description), services.map(({ item }) => item.startType), services.map(({ item }) => item.unitFileState),
      services.map(({ item }) => item.userName), services.map(({ item }) => item.binaryPathName),
    ]);
  const tasks = rows((w) => w.snapshot.scheduledTasks);
  await insert(tx, 'snapshot_tasks', 'snapshot_id, id, name, source, task_path, user_name, schedule, command', 'uuid, uuid, text, text, text, text, text, text', tasks.length, [
    tasks.map(({ w }) => w.id), tasks.map(({ w, item }) => nameId(w.hostId, 'task', taskKey(item))), tasks.map(({ item }) => item.name),
    tasks.map(({ item }) => item.source), tasks.map(({ item }) => item.taskPath), tasks.map(({ item }) => item.userName),
    tasks.map(({ item }) => item.schedule), tasks.map(({ item }) => item.command),
  ]);
  const changes = written.flatMap((w) => w.changes.map((c, position) => ({ w, c, position })));
  await insert(tx, 'snapshot_changes', 'snapshot_id, position, kind, subject, privileged, before, after', 'uuid, integer, text, text, boolean, text, text', changes.length, [
    changes.map(({ w }) => w.id), changes.map(({ position }) => position), changes.map(({ c }) => c.kind), changes.map(({ c }) => c.subject),
    changes.map(({ c }) => c.privileged), changes.map(({ c }) => c.before), changes.map(({ c }) => c.after),
  ]);

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

// One multi-row insert from parallel arrays. Lists inside a row (reasons, members) are jsonb: arrays of
// arrays cannot be unnest parameters, since PostgreSQL arrays must be rectangular.
async function insert(tx: Queryable, table: string, columns: string, types: string, count: number, values: unknown[][]): Promise<void> {
  if (count === 0) return;
  const typed = types.split(', ');
  await tx.query(
    `INSERT INTO ${table} (${columns}) SELECT * FROM unnest(${typed.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`,
    values,
  );
}
