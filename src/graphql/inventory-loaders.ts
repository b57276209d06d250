import DataLoader from 'dataloader';
import type { Principal } from '../auth';
import type { InventoryService, SnapshotLists, SnapshotPage } from '../inventory-service';
import type { HostKeyTrust, SnapshotRecord } from '../store';

/**
 * One request's batched reads of the inventory: every snapshot or list asked for while the request
 * resolves one level of its selection is read in one store call, so a page of 100 hosts with their
 * users and groups costs the same few statements as a page of one. A loader lives as long as its
 * request (its cache is that request's view).
 */
export function inventoryLoaders(inventory: InventoryService, principal: Principal) {
  const list = <K extends keyof SnapshotLists>(name: K) =>
    new DataLoader<string, SnapshotLists[K] extends Map<string, infer V> ? V : never>(async (ids) => {
      const grouped = await inventory.lists(principal, name, ids);
      return ids.map((id) => (grouped.get(id) ?? []) as never);
    });
  // First pages of Host.scans, one loader per page size asked for in the request.
  const firstPages = new Map<number, DataLoader<string, SnapshotPage>>();
  return {
    firstScans: (first: number) => {
      let loader = firstPages.get(first);
      if (!loader) {
        firstPages.set(first, (loader = new DataLoader(async (hostIds) => {
          const pages = await inventory.firstPages(principal, { hostIds, first });
          return hostIds.map((id) => pages.get(id)!);
        })));
      }
      return loader;
    },
    latest: new DataLoader<string, SnapshotRecord | null>(async (hostIds) => {
      const latest = await inventory.latestOf(principal, hostIds);
      return hostIds.map((id) => latest.get(id) ?? null);
    }),
    hostKeys: new DataLoader<string, HostKeyTrust | null>(async (hostIds) => {
      const keys = await inventory.hostKeys(principal, hostIds);
      return hostIds.map((id) => keys.get(id) ?? null);
    }),
    users: list('users'),
    groups: list('groups'),
    services: list('services'),
    tasks: list('tasks'),
    changes: list('changes'),
  };
}

export type InventoryLoaders = ReturnType<typeof inventoryLoaders>;

// Keyed by the request's context object, so the loaders go when the request does.
const perContext = new WeakMap<object, InventoryLoaders>();

export function loadersFor(context: object, inventory: InventoryService, principal: Principal): InventoryLoaders {
  let loaders = perContext.get(context);
  if (!loaders) perContext.set(context, (loaders = inventoryLoaders(inventory, principal)));
  return loaders;
}
