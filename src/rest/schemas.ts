import { ActionFailureReason, ActionStatus } from '../model';

// JSON Schemas of the vendor wire shapes: they serialize responses (fast-json-stringify) and
// describe the routes in the OpenAPI document.

const uuid = { type: 'string', format: 'uuid' } as const;
const nullableUuid = { type: ['string', 'null'], format: 'uuid' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const dateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const emptyList = { type: 'array', items: {}, maxItems: 0 } as const;

export const enumInts = (e: Record<string, string | number>, name: string) => {
  const values = Object.values(e).filter((v): v is number => typeof v === 'number');
  return {
    type: 'integer',
    enum: values,
    description: `${name}: ${values.map((v) => `${v} ${e[v]}`).join(', ')}`,
  } as const;
};

export const actionStatus = enumInts(ActionStatus, 'SbPAM.Constants.ActionConstants+ActionStatus');
export const actionFailureReason = enumInts(ActionFailureReason, 'SbPAM.Constants.ActionConstants+ActionFailureReason');

export const hostScanHostStatus = {
  type: 'object',
  description: 'SbPAM.Models.HostScanHostStatus',
  properties: {
    hostScanHostId: uuid,
    hostId: nullableUuid,
    name: nullableString,
    dnsHostName: nullableString,
    os: nullableString,
    ipAddress: nullableString,
    version: nullableString,
    status: actionStatus,
    statusDescription: nullableString,
    failureReason: actionFailureReason,
  },
} as const;

export const hostScanJobStatus = {
  type: 'object',
  description: 'SbPAM.Models.HostScanJobStatus',
  properties: {
    id: uuid,
    status: actionStatus,
    statusDescription: nullableString,
    hostScanHostStatus: { type: 'array', items: hostScanHostStatus },
  },
} as const;

const timestamps = { nodeId: uuid, createdDateTimeUtc: dateTime, modifiedDateTimeUtc: dateTime } as const;

const jobOwnFields = {
  id: uuid,
  createdBy: nullableUuid,
  createdByUserName: nullableString,
  createdFromAddress: nullableString,
} as const;

export const hostScanHost = {
  type: 'object',
  description: 'SbPAM.Models.HostScanHost',
  properties: {
    id: uuid,
    name: nullableString,
    dnsHostName: nullableString,
    ipAddress: nullableString,
    os: nullableString,
    version: nullableString,
    lsaLookupCache: nullableString,
    lastUpdatedDateTimeUtc: dateTime,
    hostId: nullableUuid,
    credentialId: nullableUuid,
    platformId: nullableUuid,
    lastScanTimeUtc: dateTime,
    lastScanStartTimeUtc: dateTime,
    hostScanUser: emptyList,
    hostScanGroup: emptyList,
    hostScanFeature: emptyList,
    hostScanJobHostJoin: emptyList,
    hostConnected: { type: 'boolean' },
    netBiosName: nullableString,
    ...timestamps,
  },
} as const;

const actionQueue = {
  type: 'object',
  description: 'SbPAM.Models.ActionQueue',
  properties: {
    id: uuid,
    actionJobId: nullableUuid,
    runUserId: nullableUuid,
    timeCreated: dateTime,
    timeStarted: dateTime,
    timeFinished: dateTime,
    heartBeatDateTimeUtc: dateTime,
    status: actionStatus,
    statusDescription: nullableString,
    failureReason: actionFailureReason,
    actionGroupId: nullableUuid,
    actionGroup: { type: 'null' },
    actionQueueAction: emptyList,
    ...timestamps,
  },
} as const;

export const hostScanJob = {
  type: 'object',
  description: 'SbPAM.Models.HostScanJob',
  properties: {
    ...jobOwnFields,
    hostScanJobHostJoin: {
      type: 'array',
      items: {
        type: 'object',
        description: 'SbPAM.Models.HostScanJobHostJoin',
        properties: {
          hostScanJobId: uuid,
          hostScanJob: {
            type: 'object',
            properties: { ...jobOwnFields, hostScanJobHostJoin: emptyList, ...timestamps },
          },
          hostScanHostId: uuid,
          hostScanHost,
          actionQueueId: nullableUuid,
          actionQueue,
          ...timestamps,
        },
      },
    },
    ...timestamps,
  },
} as const;

export const problemDetails = {
  type: 'object',
  description: 'Microsoft.AspNetCore.Mvc.ProblemDetails (application/problem+json)',
  properties: {
    type: nullableString,
    title: nullableString,
    status: { type: ['integer', 'null'] },
    detail: nullableString,
    traceId: nullableString,
    errors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
  },
} as const;

export const hostIdArray = {
  type: 'array',
  items: uuid,
  description: 'Host ids (UUIDs); duplicates are scheduled once.',
} as const;

const requestFields = {
  dnsHostName: nullableString,
  ipAddress: nullableString,
  os: nullableString,
  credentialId: nullableUuid,
  credentialName: nullableString,
  platformName: nullableString,
  acceptThumbprintOnFirstDiscovery: { type: ['boolean', 'null'] },
  sshTrustActionType: { type: ['integer', 'null'], enum: [0, 1, 2, null], description: 'SbPAM.Constants.SshConstants+SshTrustActionType: 0 AlwaysTrustIgnoreThumbprint, 1 WarnOnThumbprintMismatch, 2 ErrorOnThumbprintMismatch' },
  certificateType: { type: ['integer', 'null'], enum: [0, 1, 2, null], description: 'SbPAM.Constants.SshConstants+CertificateType: 0 WinRM, 1 RDP, 2 SSH' },
  trustedThumbprint: nullableString,
  sshPort: { type: ['integer', 'null'] },
  source: nullableString,
} as const;

export const hostScanJobRequests = {
  type: 'array',
  items: { type: 'object', description: 'SbPAM.Models.HostScanJobRequest', properties: requestFields },
} as const;

export const hostScanJobResponses = {
  type: 'array',
  items: {
    type: 'object',
    description: 'SbPAM.Models.HostScanJobResponse',
    properties: {
      ...requestFields,
      credentialNameError: nullableString,
      platformNameError: nullableString,
      ipAddressError: nullableString,
      dnsHostNameError: nullableString,
    },
  },
} as const;
