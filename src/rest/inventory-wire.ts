import type { ScannedAccounts, ScannedHost, ScannedHostDetail } from '../inventory-service';
import { hostScanHostShape } from './wire';
import type { SnapshotGroup, SnapshotRecord, SnapshotService, SnapshotTask, SnapshotUser } from '../store';

// The vendor's inventory shapes (SbPAM.Models.HostScan*), camelCase, enums as integers. Joins carry ids and
// one level of the joined object; back references (hostScanHost, the far side of a join) are null, so no
// shape repeats itself. Unix accounts have no SID; Windows-only fields are null.

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const times = (s: SnapshotRecord, nodeId: string) => ({ nodeId, createdDateTimeUtc: iso(s.createdAt), modifiedDateTimeUtc: iso(s.createdAt) });

/** `SbPAM.Models.HostScanGroup` without its joins. */
function groupFields(g: SnapshotGroup, s: SnapshotRecord, nodeId: string) {
  return { id: g.id, name: g.name, sid: null, unixId: g.unixId, groupId: null, hostScanHostId: s.id, hostScanHost: null, resourceObjectId: null, ...times(s, nodeId) };
}

/** `SbPAM.Models.HostScanUser` without its joins. */
function userFields(u: SnapshotUser, s: SnapshotRecord, nodeId: string) {
  return {
    id: u.id,
    name: u.name,
    displayName: u.displayName,
    samaccountname: null,
    lastLogonTimestamp: null,
    sid: null,
    // Never a hash: the scan does not keep one.
    passwordHash: null,
    passwordChangedDateTimeUtc: null,
    passwordExpirationDateTimeUtc: null,
    unixId: u.unixId,
    unixGroupId: u.unixGroupId,
    homeDirectory: u.homeDirectory,
    shell: u.shell,
    privilege: u.privilege,
    discoveredDateTimeUtc: iso(s.createdAt),
    userId: null,
    hostScanHostId: s.id,
    hostScanHost: null,
    resourceObjectId: null,
    isDisabled: u.isDisabled,
    ...times(s, nodeId),
  };
}

/** An account with its groups (`hostScanUserGroupJoin`, each with the group). */
export function toScanUser(u: SnapshotUser, s: SnapshotRecord, groups: readonly SnapshotGroup[], nodeId: string) {
  return {
    ...userFields(u, s, nodeId),
    hostScanUserGroupJoin: groups
      .filter((g) => g.members.includes(u.name))
      .map((g) => ({ hostScanUserId: u.id, hostScanUser: null, hostScanGroupId: g.id, hostScanGroup: { ...groupFields(g, s, nodeId), hostScanUserGroupJoin: null, hostScanGroupGroupJoin: null } })),
  };
}

/** A group with its members (`hostScanUserGroupJoin`, each with the account where the host has one by that name). */
export function toScanGroup(g: SnapshotGroup, s: SnapshotRecord, users: readonly SnapshotUser[], nodeId: string) {
  const byName = new Map(users.map((u) => [u.name, u]));
  return {
    ...groupFields(g, s, nodeId),
    hostScanUserGroupJoin: g.members.flatMap((name) => {
      const u = byName.get(name);
      return u ? [{ hostScanUserId: u.id, hostScanUser: { ...userFields(u, s, nodeId), hostScanUserGroupJoin: null }, hostScanGroupId: g.id, hostScanGroup: null }] : [];
    }),
    // Unix groups do not nest.
    hostScanGroupGroupJoin: [],
  };
}

function serviceOf(v: SnapshotService, s: SnapshotRecord, nodeId: string) {
  return {
    id: v.id, name: v.name, displayName: v.name, description: v.description, startType: v.startType, userName: v.userName ?? 'root',
    binaryPathName: v.binaryPathName, dependentServices: null, canPauseAndContinue: false, canShutdown: false, canStop: true,
    serviceType: 0, delayedStart: false, ...times(s, nodeId), discoveredDateTimeUtc: iso(s.createdAt), hostScanHostId: s.id, hostScanHost: null, hostObjectId: null,
  };
}

function taskOf(t: SnapshotTask, s: SnapshotRecord, nodeId: string) {
  return {
    id: t.id, userName: t.userName, name: t.name, taskPath: t.taskPath, description: `${t.source}: ${t.schedule} ${t.command}`.slice(0, 1000),
    discoveredDateTimeUtc: iso(s.createdAt), source: t.source, nextRunTimeUtc: null, lastRunTimeUtc: null, lastRunResult: 0,
    scheduledTaskTriggers: null, scheduledTaskActions: null, ...times(s, nodeId), hostScanHostId: s.id, hostScanHost: null, hostObjectId: null,
  };
}

/**
 * `SbPAM.Models.HostScanHost`: a host's snapshot with its accounts and groups. The detail (`GET /Host/{id}`)
 * also carries `hostScanService` and `hostScanScheduledTask`, the vendor's HostScanService and
 * HostScanScheduledTask of this host; the list leaves them null.
 */
export function toScanHost(h: ScannedHost | ScannedHostDetail) {
  const { snapshot: s, nodeId } = h;
  return {
    ...hostScanHostShape({
      id: s.id, name: s.name, dnsHostName: s.dnsHostName, ipAddress: s.ipAddress, os: s.os, version: s.version, hostId: s.hostId,
      credentialId: s.credentialId, lastScanTimeUtc: iso(s.createdAt), lastScanStartTimeUtc: iso(s.scanStartedAt),
      hostScanUser: h.users.map((u) => toScanUser(u, s, h.groups, nodeId)),
      hostScanGroup: h.groups.map((g) => toScanGroup(g, s, h.users, nodeId)),
      hostConnected: true, ...times(s, nodeId),
    }),
    hostScanService: 'services' in h ? h.services.map((v) => serviceOf(v, s, nodeId)) : null,
    hostScanScheduledTask: 'tasks' in h ? h.tasks.map((t) => taskOf(t, s, nodeId)) : null,
  };
}

/** The accounts of `GET /User` and `GET /User/{id}`. */
export const toScanUsers = (a: ScannedAccounts) =>
  a.users.map((u) => toScanUser(u, a.snapshots.get(u.snapshotId)!, a.groupsOf.get(u.snapshotId) ?? [], a.nodeId));

/** The group of `GET /Group/{id}`. */
export const toScanGroups = (a: ScannedAccounts) =>
  a.groups.map((g) => toScanGroup(g, a.snapshots.get(g.snapshotId)!, a.usersOf.get(g.snapshotId) ?? [], a.nodeId));
