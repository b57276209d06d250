import { ServiceStartType, UserPrivilege, type InventorySnapshot } from '../../src/inventory';
import { ActionFailureReason, ActionStatus } from '../../src/model';
import type { InventoryUpdate, Store } from '../../src/store';

const OWNER = 'inventory-test-writer';

/** A snapshot of `users` accounts (the first two privileged), `groups` groups and `services` services. */
export function syntheticSnapshot({ users = 5, groups = 4, services = 3, tasks = 2 } = {}): InventorySnapshot {
  const names = Array.from({ length: users }, (_, i) => (i === 0 ? 'root' : `user${String(i).padStart(3, '0')}`));
  return {
    os: 'Debian GNU/Linux', version: '12', hostName: 'synthetic', dnsHostName: 'synthetic.test', notes: [],
    users: names.map((name, i) => ({
      name, unixId: i === 0 ? 0 : 1000 + i, unixGroupId: i === 0 ? 0 : 1000 + i, displayName: name, homeDirectory: i === 0 ? '/root' : `/home/${name}`,
      shell: '/bin/bash', isDisabled: false, disabledReasons: [],
      privilege: i === 0 ? UserPrivilege.SuperUser : i === 1 ? UserPrivilege.Administrator : UserPrivilege.LinuxUser,
      privilegeReasons: i === 0 ? ['uid 0'] : i === 1 ? ['member of sudo'] : [],
    })),
    groups: Array.from({ length: groups }, (_, i) => ({
      name: i === 0 ? 'sudo' : `group${String(i).padStart(3, '0')}`, unixId: i === 0 ? 27 : 2000 + i,
      members: i === 0 ? names.slice(1, 2) : names.filter((_, u) => u % groups === i),
    })),
    services: Array.from({ length: services }, (_, i) => ({
      name: `unit${String(i).padStart(3, '0')}.service`, description: `Unit ${i}`, startType: i % 2 ? ServiceStartType.Manual : ServiceStartType.Automatic,
      unitFileState: i % 2 ? 'static' : 'enabled', userName: i % 3 ? `svc${i}` : null, binaryPathName: `/usr/bin/unit${i}`,
    })),
    scheduledTasks: Array.from({ length: tasks }, (_, i) => ({
      name: `/usr/local/bin/job${i}`, source: 'crontab' as const, taskPath: '/etc/crontab', userName: 'root', schedule: `${i} 3 * * *`, command: `/usr/local/bin/job${i}`,
    })),
  };
}

/**
 * Record a credentialed scan of each host with its snapshot through the store's own write path: schedule,
 * claim and finish (the runner's calls), so snapshots, their differences and the host's latest are what a
 * real scan leaves. The store must not have a runner claiming scans meanwhile.
 */
export async function recordSnapshots(
  store: Store,
  entries: readonly { hostId: string; snapshot: InventorySnapshot; fingerprint?: string }[],
): Promise<InventoryUpdate[]> {
  const { jobs } = await store.jobs.schedule(entries.map((e) => e.hostId), { subject: 'inventory-test', userName: 'inventory test', address: null });
  if (!jobs) throw new Error('a host to record a snapshot for is unknown');
  const scanOf = new Map(jobs.flatMap((j) => j.scans.map((s) => [s.hostId!, s.id] as const)));
  const wanted = new Set(scanOf.values());
  const claimed = new Set<string>();
  while (claimed.size < wanted.size) {
    const { scans } = await store.queue.claim(OWNER, 1000, 60_000);
    if (scans.length === 0) throw new Error('the scans to record could not be claimed');
    const others = scans.filter((s) => !wanted.has(s.id)).map((s) => s.id);
    if (others.length) await store.queue.release(OWNER, others);
    for (const s of scans) if (wanted.has(s.id)) claimed.add(s.id);
  }
  const finished = await store.queue.finish(OWNER, entries.map((e) => ({
    scanId: scanOf.get(e.hostId)!,
    result: {
      status: ActionStatus.Complete, description: 'Complete', failureReason: ActionFailureReason.NoError, hostConnected: true,
      os: e.snapshot.os, version: e.snapshot.version, hostKey: { fingerprint: e.fingerprint ?? 'SHA256:synthetic', algorithm: 'ssh-ed25519' }, inventory: e.snapshot,
    },
  })));
  return finished.inventory;
}

/**
 * Counts the calls made to the store's parts from now on (each inventory and host read is one statement),
 * by wrapping them in place on the gateway's own store object. For tests only.
 */
export function countStoreCalls(store: Store): { readonly count: number; readonly calls: string[]; reset(): void } {
  const calls: string[] = [];
  const parts = store as unknown as Record<string, object>;
  for (const part of ['hosts', 'jobs', 'queue', 'inventory', 'audit']) {
    const target = parts[part]!;
    parts[part] = new Proxy(target, {
      get(t, method) {
        const value = (t as Record<string | symbol, unknown>)[method];
        if (typeof method !== 'string' || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(`${part}.${method}`);
          return (value as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  }
  return { get count() { return calls.length; }, calls, reset: () => void (calls.length = 0) };
}
