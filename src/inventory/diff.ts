import { UserPrivilege, type InventorySnapshot, type HostScheduledTask } from './model';

/** What the next snapshot of a host is compared with, taken from the previous snapshot's lists. */
export interface SnapshotDigest {
  /** By account name. */
  users: Record<string, { privilege: UserPrivilege; disabled: boolean }>;
  /** Service unit names. */
  services: string[];
  /** Task identities (see taskKey). */
  tasks: string[];
  hostKey: string | null;
}

export type ChangeKind =
  | 'account-added'
  | 'account-removed'
  | 'privilege-changed'
  | 'account-disabled'
  | 'account-enabled'
  | 'service-added'
  | 'service-removed'
  | 'task-added'
  | 'task-removed'
  | 'host-key-changed';

/** One difference between a host's last two snapshots. */
export interface InventoryChange {
  kind: ChangeKind;
  /** The account or service name, the task's identity, or the host key's new fingerprint. */
  subject: string;
  /** Whether it concerns a privileged account (before or after) or the host key: what a watcher alerts on. */
  privileged: boolean;
  before: string | null;
  after: string | null;
}

const PRIVILEGED = new Set([UserPrivilege.SuperUser, UserPrivilege.Administrator, UserPrivilege.DomainAdmin, UserPrivilege.EnterpriseAdmin]);

/** Whether a privilege level administers the host. */
export const isPrivileged = (privilege: UserPrivilege): boolean => PRIVILEGED.has(privilege);

/** A task's identity, readable as it stands: where it is, who runs it, when and what. A changed schedule is another task. */
export const taskKey = (t: Pick<HostScheduledTask, 'taskPath' | 'userName' | 'schedule' | 'command'>): string =>
  `${t.taskPath} (${t.userName ?? 'root'}): ${t.schedule} ${t.command}`;

export function digestOf(snapshot: Pick<InventorySnapshot, 'users' | 'services' | 'scheduledTasks'>, hostKey: string | null): SnapshotDigest {
  return {
    users: Object.fromEntries(snapshot.users.map((u) => [u.name, { privilege: u.privilege, disabled: u.isDisabled }])),
    services: snapshot.services.map((s) => s.name),
    tasks: snapshot.scheduledTasks.map(taskKey),
    hostKey,
  };
}

/**
 * The differences from `previous` to `next`, in a stable order (host key, accounts, services, tasks). A
 * host's first snapshot has no previous one and so no differences. A host key that was not read (no
 * credential) is not a change.
 */
export function diffSnapshots(previous: SnapshotDigest | null, next: SnapshotDigest): InventoryChange[] {
  if (!previous) return [];
  const changes: InventoryChange[] = [];
  if (previous.hostKey && next.hostKey && previous.hostKey !== next.hostKey) {
    changes.push({ kind: 'host-key-changed', subject: next.hostKey, privileged: true, before: previous.hostKey, after: next.hostKey });
  }
  const names = [...new Set([...Object.keys(previous.users), ...Object.keys(next.users)])].sort();
  for (const name of names) {
    const was = previous.users[name];
    const now = next.users[name];
    const privileged = (!!was && isPrivileged(was.privilege)) || (!!now && isPrivileged(now.privilege));
    const level = (u: { privilege: UserPrivilege }) => UserPrivilege[u.privilege] ?? String(u.privilege);
    if (!was) changes.push({ kind: 'account-added', subject: name, privileged, before: null, after: level(now!) });
    else if (!now) changes.push({ kind: 'account-removed', subject: name, privileged, before: level(was), after: null });
    else {
      if (was.privilege !== now.privilege) changes.push({ kind: 'privilege-changed', subject: name, privileged, before: level(was), after: level(now) });
      if (was.disabled !== now.disabled) {
        changes.push({ kind: now.disabled ? 'account-disabled' : 'account-enabled', subject: name, privileged, before: null, after: null });
      }
    }
  }
  changes.push(...setChanges(previous.services, next.services, 'service-added', 'service-removed'));
  changes.push(...setChanges(previous.tasks, next.tasks, 'task-added', 'task-removed'));
  return changes;
}

function setChanges(before: string[], after: string[], added: ChangeKind, removed: ChangeKind): InventoryChange[] {
  const was = new Set(before);
  const now = new Set(after);
  return [
    ...after.filter((x) => !was.has(x)).sort().map((subject) => ({ kind: added, subject, privileged: false, before: null, after: null })),
    ...before.filter((x) => !now.has(x)).sort().map((subject) => ({ kind: removed, subject, privileged: false, before: null, after: null })),
  ];
}
