import { ServiceStartType, UserPrivilege } from '../inventory/model';
import { enumInts } from './schemas';

// JSON Schemas of the vendor's inventory shapes (see inventory-wire.ts): they serialize the responses and
// describe the routes in the OpenAPI document.

const uuid = { type: 'string', format: 'uuid' } as const;
const nullableUuid = { type: ['string', 'null'], format: 'uuid' } as const;
const text = { type: ['string', 'null'] } as const;
const int = { type: ['integer', 'null'] } as const;
const dateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const none = { type: 'null' } as const;
const emptyList = { type: 'array', items: {}, maxItems: 0 } as const;
const nullable = <T extends { properties: object; description: string }>(schema: T) => ({ ...schema, type: ['object', 'null'] }) as const;
const times = { nodeId: uuid, createdDateTimeUtc: dateTime, modifiedDateTimeUtc: dateTime } as const;

export const userPrivilege = enumInts(UserPrivilege, 'SbPAM.ActiveDirectory.Models.Enums.UserPrivilege');
export const serviceStartType = enumInts(ServiceStartType, 'SbPAM.Models.Common.ServiceStartType');

const groupFields = {
  id: uuid, name: text, sid: text, unixId: int, groupId: nullableUuid, hostScanHostId: uuid, hostScanHost: none, resourceObjectId: nullableUuid, ...times,
} as const;

const userFields = {
  id: uuid, name: text, displayName: text, samaccountname: text, lastLogonTimestamp: dateTime, sid: { ...text, description: 'null on Unix hosts' },
  passwordHash: { type: 'null', description: 'Never sent: the scan keeps no password hash.' }, passwordChangedDateTimeUtc: dateTime,
  passwordExpirationDateTimeUtc: dateTime, unixId: int, unixGroupId: int, homeDirectory: text, shell: text, privilege: userPrivilege,
  discoveredDateTimeUtc: dateTime, userId: nullableUuid, hostScanHostId: nullableUuid, hostScanHost: none, resourceObjectId: nullableUuid,
  isDisabled: { type: 'boolean' }, ...times,
} as const;

const shallowGroup = { type: 'object', description: 'SbPAM.Models.HostScanGroup', properties: { ...groupFields, hostScanUserGroupJoin: none, hostScanGroupGroupJoin: none } } as const;
const shallowUser = { type: 'object', description: 'SbPAM.Models.HostScanUser', properties: { ...userFields, hostScanUserGroupJoin: none } } as const;

const userGroupJoin = (user: object, group: object) => ({
  type: 'array',
  items: {
    type: 'object',
    description: 'SbPAM.Models.HostScanUserGroupJoin',
    properties: { hostScanUserId: uuid, hostScanUser: user, hostScanGroupId: uuid, hostScanGroup: group },
  },
}) as const;

export const hostScanUser = {
  type: 'object',
  description: 'SbPAM.Models.HostScanUser, with its groups',
  properties: { ...userFields, hostScanUserGroupJoin: userGroupJoin(none, nullable(shallowGroup)) },
} as const;

export const hostScanGroup = {
  type: 'object',
  description: 'SbPAM.Models.HostScanGroup, with its members',
  properties: { ...groupFields, hostScanUserGroupJoin: userGroupJoin(nullable(shallowUser), none), hostScanGroupGroupJoin: emptyList },
} as const;

const hostScanService = {
  type: 'object',
  description: 'SbPAM.Models.HostScanService (a systemd unit)',
  properties: {
    id: uuid, name: text, displayName: text, description: text, startType: serviceStartType, userName: text, binaryPathName: text,
    dependentServices: text, canPauseAndContinue: { type: 'boolean' }, canShutdown: { type: 'boolean' }, canStop: { type: 'boolean' },
    serviceType: { type: 'integer', description: 'SbPAM.Models.Common.ServiceTypeFlags; 0 (none) for systemd units' }, delayedStart: { type: 'boolean' },
    ...times, discoveredDateTimeUtc: dateTime, hostScanHostId: uuid, hostScanHost: none, hostObjectId: nullableUuid,
  },
} as const;

const hostScanScheduledTask = {
  type: 'object',
  description: 'SbPAM.Models.HostScanScheduledTask (a cron entry or systemd timer)',
  properties: {
    id: uuid, userName: text, name: text, taskPath: text, description: text, discoveredDateTimeUtc: dateTime, source: text,
    nextRunTimeUtc: dateTime, lastRunTimeUtc: dateTime, lastRunResult: { type: 'integer' }, scheduledTaskTriggers: none, scheduledTaskActions: none,
    ...times, hostScanHostId: uuid, hostScanHost: none, hostObjectId: nullableUuid,
  },
} as const;

export const hostScanHost = {
  type: 'object',
  description: 'SbPAM.Models.HostScanHost: a host as its latest credentialed scan found it',
  properties: {
    id: { ...uuid, description: 'The snapshot (this scan of the host).' },
    name: text, dnsHostName: text, ipAddress: text, os: text, version: text, lsaLookupCache: text, lastUpdatedDateTimeUtc: dateTime,
    hostId: nullableUuid, credentialId: nullableUuid, platformId: nullableUuid, lastScanTimeUtc: dateTime, lastScanStartTimeUtc: dateTime,
    hostScanUser: { type: 'array', items: hostScanUser },
    hostScanGroup: { type: 'array', items: hostScanGroup },
    hostScanFeature: emptyList,
    hostScanJobHostJoin: emptyList,
    hostConnected: { type: 'boolean' },
    netBiosName: text,
    ...times,
    hostScanService: { type: ['array', 'null'], items: hostScanService, description: 'Not a vendor field: the host\'s services, on GET /Host/{hostId} only.' },
    hostScanScheduledTask: { type: ['array', 'null'], items: hostScanScheduledTask, description: 'Not a vendor field: the host\'s scheduled tasks, on GET /Host/{hostId} only.' },
  },
} as const;
