import { requireRole, type Principal, type Role } from './auth';
import { badInput, notFound } from './errors';
import type { InventoryEvents } from './inventory-events';
import type { HostKeyTrust, InventoryUpdate, SnapshotChange, SnapshotGroup, SnapshotRecord, SnapshotService, SnapshotTask, SnapshotUser, Store } from './store';
import { decodeCursor } from './service';
import { idList, intParam, uuidParam } from './validate';

const READ_ROLES: readonly Role[] = ['Admin', 'App'];

/** The lists of many snapshots at once, each by snapshot id (what a GraphQL batch loader asks for). */
export interface SnapshotLists {
  users: Map<string, SnapshotUser[]>;
  groups: Map<string, SnapshotGroup[]>;
  services: Map<string, SnapshotService[]>;
  tasks: Map<string, SnapshotTask[]>;
  changes: Map<string, SnapshotChange[]>;
}

export type SnapshotList = keyof SnapshotLists;

/** A scanned host as REST lists it: its latest snapshot with its accounts and groups. */
export interface ScannedHost {
  snapshot: SnapshotRecord;
  users: SnapshotUser[];
  groups: SnapshotGroup[];
  /** The database's id (the vendor's nodeId). */
  nodeId: string;
}

export interface ScannedHostDetail extends ScannedHost {
  services: SnapshotService[];
  tasks: SnapshotTask[];
}

/** Accounts and groups with what their vendor shapes join to: their snapshots, and those snapshots' groups and accounts. */
export interface ScannedAccounts {
  users: SnapshotUser[];
  groups: SnapshotGroup[];
  snapshots: Map<string, SnapshotRecord>;
  usersOf: Map<string, SnapshotUser[]>;
  groupsOf: Map<string, SnapshotGroup[]>;
  nodeId: string;
}

/** The opaque cursor of a snapshot in a host's history. */
export const snapshotCursor = (snapshot: { seq: string }): string => Buffer.from(`snapshot:${snapshot.seq}`).toString('base64url');

/**
 * What credentialed scans found on hosts: their latest snapshots and history, accounts, groups,
 * services and scheduled tasks, and a live stream of the differences. Any scan role reads; the store
 * writes snapshots with the scan results (see the queue), so nothing here changes them.
 */
/** A page of a host's snapshots, newest first; `seq` is what its cursor encodes. */
export interface SnapshotPage {
  items: (SnapshotRecord & { seq: string })[];
  hasMore: boolean;
}

export class InventoryService {
  constructor(private readonly o: { store: Store; events: InventoryEvents; maxHostIds?: number }) {}

  private get inventory() {
    return this.o.store.inventory;
  }

  /** The latest snapshot of each host that has one, by host id; hosts without one are left out. */
  async latestOf(principal: Principal, hostIds: readonly string[]): Promise<Map<string, SnapshotRecord>> {
    requireRole(principal, READ_ROLES);
    return new Map((await this.inventory.latestOf(hostIds)).map((s) => [s.hostId, s]));
  }

  /** How each host's SSH host key is trusted, by host id. */
  async hostKeys(principal: Principal, hostIds: readonly string[]): Promise<Map<string, HostKeyTrust>> {
    requireRole(principal, READ_ROLES);
    return new Map((await this.inventory.hostKeys(hostIds)).map((k) => [k.hostId, k]));
  }

  /** One list (users, groups, …) of many snapshots, grouped by snapshot id. */
  async lists<K extends SnapshotList>(principal: Principal, list: K, snapshotIds: readonly string[]): Promise<SnapshotLists[K]> {
    requireRole(principal, READ_ROLES);
    const rows: { snapshotId: string }[] = await this.inventory[list](snapshotIds);
    const grouped = new Map<string, { snapshotId: string }[]>(snapshotIds.map((id) => [id, []]));
    for (const row of rows) grouped.get(row.snapshotId)?.push(row);
    return grouped as SnapshotLists[K];
  }

  /** A host's snapshots, newest first, paged with `first` (≤ 100) and the cursor (`snapshotCursor`) of the last one seen. */
  async history(principal: Principal, input: { hostId: unknown; first?: unknown; after?: unknown }): Promise<SnapshotPage> {
    requireRole(principal, READ_ROLES);
    const hostId = uuidParam(input.hostId, 'hostId');
    const first = intParam(input.first, 'first', 10, 1, 100);
    const after = input.after == null ? null : decodeCursor(input.after, 'snapshot', /^\d{1,18}$/);
    const items = await this.inventory.history(hostId, first + 1, after);
    return { items: items.slice(0, first), hasMore: items.length > first };
  }

  /** The first page (`first` ≤ 100) of each host's snapshots, newest first, by host id: one read for many hosts. */
  async firstPages(principal: Principal, input: { hostIds: readonly string[]; first?: unknown }): Promise<Map<string, SnapshotPage>> {
    requireRole(principal, READ_ROLES);
    const first = intParam(input.first, 'first', 10, 1, 100);
    const pages = new Map(input.hostIds.map((id): [string, SnapshotPage] => [id, { items: [], hasMore: false }]));
    for (const snapshot of await this.inventory.newestOf(input.hostIds, first + 1)) {
      const page = pages.get(snapshot.hostId)!;
      if (page.items.length < first) page.items.push(snapshot);
      else page.hasMore = true;
    }
    return pages;
  }

  /** REST `GET /Host`: the latest snapshot of every scanned host with its accounts and groups, `skip`/`take` (≤ 1000). */
  async scannedHosts(principal: Principal, input: { skip?: unknown; take?: unknown }): Promise<ScannedHost[]> {
    requireRole(principal, READ_ROLES);
    const snapshots = await this.inventory.latestPage(intParam(input.skip, 'skip', 0, 0, 1_000_000), intParam(input.take, 'take', 1000, 1, 1000));
    const ids = snapshots.map((s) => s.id);
    const [users, groups] = await Promise.all([this.lists(principal, 'users', ids), this.lists(principal, 'groups', ids)]);
    return snapshots.map((snapshot) => ({ snapshot, users: users.get(snapshot.id)!, groups: groups.get(snapshot.id)!, nodeId: this.nodeId }));
  }

  /**
   * REST `GET /Host/{hostId}`: a host's latest snapshot with all its lists. The id is the host's, or that
   * of one of its snapshots (the `id` a HostScanHost carries), which is then served as it was recorded.
   */
  async scannedHost(principal: Principal, input: { hostId: unknown }): Promise<ScannedHostDetail> {
    requireRole(principal, READ_ROLES);
    const id = uuidParam(input.hostId, 'hostId');
    const [snapshot] = (await this.inventory.latestOf([id])).concat(await this.inventory.snapshots([id]));
    if (!snapshot) throw notFound(`No scanned host has the id ${id}.`);
    const ids = [snapshot.id];
    const [users, groups, services, tasks] = await Promise.all([
      this.inventory.users(ids), this.inventory.groups(ids), this.inventory.services(ids), this.inventory.tasks(ids),
    ]);
    return { snapshot, users, groups, services, tasks, nodeId: this.nodeId };
  }

  /** REST `GET /User`: accounts of every host's latest snapshot, with their snapshots' groups. */
  async users(principal: Principal, input: { skip?: unknown; take?: unknown }): Promise<ScannedAccounts> {
    requireRole(principal, READ_ROLES);
    const users = await this.inventory.latestUsersPage(intParam(input.skip, 'skip', 0, 0, 1_000_000), intParam(input.take, 'take', 1000, 1, 1000));
    return this.accountsOf(users, []);
  }

  /** REST `GET /User/{userId}`: an account as its host's latest snapshot has it. */
  async user(principal: Principal, input: { userId: unknown }): Promise<ScannedAccounts> {
    requireRole(principal, READ_ROLES);
    const userId = uuidParam(input.userId, 'userId');
    const user = await this.inventory.userInLatest(userId);
    if (!user) throw notFound(`No scanned user has the id ${userId}.`);
    return this.accountsOf([user], []);
  }
  /**
   * REST `GET /User/SID/{sid}`: Windows security identifiers. Unix accounts have none, and Windows
   * inventory is not collected yet, so a well-formed SID is NOT_FOUND and anything else BAD_INPUT.
   */
  async userBySid(principal: Principal, input: { sid: unknown }): Promise<SnapshotUser> {
    requireRole(principal, READ_ROLES);
    const sid = input.sid;
    if (typeof sid !== 'string' || !/^S-1-\d{1,2}(-\d{1,10}){1,14}$/i.test(sid)) throw badInput({ sid: ['Not a security identifier (S-1-…).'] });
    throw notFound(`No scanned user has the SID ${sid}.`);
  }

  /** REST `GET /Group/{groupId}`: a group as its host's latest snapshot has it, with the accounts of that snapshot. */
  async group(principal: Principal, input: { groupId: unknown }): Promise<ScannedAccounts> {
    requireRole(principal, READ_ROLES);
    const groupId = uuidParam(input.groupId, 'groupId');
    const group = await this.inventory.groupInLatest(groupId);
    if (!group) throw notFound(`No scanned group has the id ${groupId}.`);
    return this.accountsOf([], [group]);
  }

  /** Accounts and groups with their snapshots and the rest of those snapshots' accounts and groups (for the joins). */
  private async accountsOf(users: SnapshotUser[], groups: SnapshotGroup[]): Promise<ScannedAccounts> {
    const ids = [...new Set([...users, ...groups].map((x) => x.snapshotId))];
    const [snapshots, allUsers, allGroups] = await Promise.all([
      this.inventory.snapshots(ids),
      groups.length > 0 ? this.inventory.users(ids) : Promise.resolve([]),
      users.length > 0 ? this.inventory.groups(ids) : Promise.resolve([]),
    ]);
    const bySnapshot = <T extends { snapshotId: string }>(rows: T[]) => {
      const map = new Map<string, T[]>();
      for (const row of rows) {
        const list = map.get(row.snapshotId);
        if (list) list.push(row);
        else map.set(row.snapshotId, [row]);
      }
      return map;
    };
    return { users, groups, snapshots: new Map(snapshots.map((s) => [s.id, s])), usersOf: bySnapshot(allUsers), groupsOf: bySnapshot(allGroups), nodeId: this.nodeId };
  }

  private get nodeId(): string {
    return this.o.store.nodeId;
  }

  /**
   * New snapshots' differences as scans record them, of the hosts in `hostIds` (all when absent); with
   * `privilegedOnly`, only updates with a change about a privileged account or the host key.
   */
  watch(principal: Principal, input: { hostIds?: unknown; privilegedOnly?: unknown }): AsyncIterableIterator<InventoryUpdate> {
    requireRole(principal, READ_ROLES);
    const hosts = input.hostIds == null ? null : new Set(idList(input.hostIds, this.o.maxHostIds ?? 1000, 'host').ids);
    const privilegedOnly = input.privilegedOnly === true;
    return this.o.events.stream(
      (u) => u.changes.length > 0 && (!hosts || hosts.has(u.hostId)) && (!privilegedOnly || u.changes.some((c) => c.privileged)),
    );
  }
}
