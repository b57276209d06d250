import { deflateSync, inflateSync } from 'node:zlib';
import { taskKey } from '../inventory/diff';
import { nameId } from '../inventory/ids';
import type { HostGroup, HostScheduledTask, HostService, HostUser, InventorySnapshot } from '../inventory/model';

/**
 * How a snapshot's lists are stored: each list is one value on the snapshot's row, a JSON array of the
 * model's items, deflated. A snapshot of 50 users, 60 groups and 100 services was 211 rows in five
 * tables (each with its foreign-key check and index entries) and cost 5–6× a bare scan result to
 * record; as four values of a few kilobytes it is a handful of pages. Snapshots are never changed after
 * they are written, so nothing needs to reach inside a list in SQL; the by-id lookups go through
 * `inventory_names` instead.
 *
 * Ids are not stored: each is the name-based UUID of its host and name (see ids.ts), so they are
 * derived when a list is read.
 */
export interface SnapshotLists {
  users: HostUser[];
  groups: HostGroup[];
  services: HostService[];
  tasks: HostScheduledTask[];
}

export type ListName = keyof SnapshotLists;

/** The key each list's ids are derived from (see nameId). */
const ID_OF = {
  users: (hostId: string, u: HostUser) => nameId(hostId, 'user', u.name),
  groups: (hostId: string, g: HostGroup) => nameId(hostId, 'group', g.name),
  services: (hostId: string, s: HostService) => nameId(hostId, 'service', s.name),
  tasks: (hostId: string, t: HostScheduledTask) => nameId(hostId, 'task', taskKey(t)),
} as const;

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byPathThenName = (a: HostScheduledTask, b: HostScheduledTask) =>
  a.taskPath < b.taskPath ? -1 : a.taskPath > b.taskPath ? 1 : byName(a, b);

/** A snapshot's lists in the order readers get them (by name; tasks by path, then name). */
export function sortedLists(snapshot: InventorySnapshot): SnapshotLists {
  return {
    users: [...snapshot.users].sort(byName),
    groups: [...snapshot.groups].sort(byName),
    services: [...snapshot.services].sort(byName),
    tasks: [...snapshot.scheduledTasks].sort(byPathThenName),
  };
}

/**
 * One list as stored. The same list always encodes to the same bytes, so a rescan that finds nothing new
 * is told apart from its previous snapshot without decoding it.
 */
export function encodeList(items: readonly unknown[]): Buffer {
  // Level 1: these lists repeat their keys in every item, so the fastest level already gives ~10×.
  return deflateSync(JSON.stringify(items), { level: 1 });
}

/** bytea's `\x…` text form, so a batch of lists is one text[] parameter on either driver. */
export const byteaText = (bytes: Buffer): string => `\\x${bytes.toString('hex')}`;

/** The lists of a host's previous snapshot, decoded only where their bytes differ from `next`'s. */
export function previousLists(stored: Record<ListName, Uint8Array>, next: SnapshotLists, nextStored: Record<ListName, Buffer>): SnapshotLists {
  const was = <K extends ListName>(list: K): SnapshotLists[K] => (Buffer.compare(stored[list], nextStored[list]) === 0 ? next[list] : decodeList<K>(stored[list]));
  return { users: was('users'), groups: was('groups'), services: was('services'), tasks: was('tasks') };
}

const ZLIB_HEADER = 0x78;

/**
 * One list as read back. Lists that migration 12 moved from the old per-item tables are plain JSON (SQL
 * cannot deflate): they start with `[`, never with zlib's header byte.
 */
export function decodeList<K extends ListName>(stored: Uint8Array): SnapshotLists[K] {
  const bytes = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  const text = bytes[0] === ZLIB_HEADER ? inflateSync(bytes).toString('utf8') : bytes.toString('utf8');
  return JSON.parse(text) as SnapshotLists[K];
}

/** A stored list's items with their ids and their snapshot's id. */
export function withIds<K extends ListName>(list: K, hostId: string, snapshotId: string, items: SnapshotLists[K]): (SnapshotLists[K][number] & { id: string; snapshotId: string })[] {
  const idOf = ID_OF[list] as (hostId: string, item: SnapshotLists[K][number]) => string;
  return items.map((item) => ({ ...item, id: idOf(hostId, item), snapshotId }));
}
