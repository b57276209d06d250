import { GraphQLDateTime, GraphQLUUID } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { SshTrustAction } from '../inventory/model';
import { ActionFailureReason, ActionStatus } from '../model';

// The GraphQL shapes. Every field and argument names its type explicitly, so the schema builds the same
// under tsc (decorator metadata) and under vitest/esbuild (none). Output types use simple resolvers: their
// fields are plain properties, and there are no field middlewares to run.

registerEnumType(ActionStatus, {
  name: 'ActionStatus',
  description: 'Vendor SbPAM.Constants.ActionConstants+ActionStatus (REST sends the integer value).',
});
registerEnumType(ActionFailureReason, {
  name: 'ActionFailureReason',
  description: 'Vendor SbPAM.Constants.ActionConstants+ActionFailureReason (REST sends the integer value).',
});

registerEnumType(SshTrustAction, {
  name: 'SshTrustActionType',
  description: "Vendor SbPAM.Constants.SshConstants+SshTrustActionType: what a scan does when a host's SSH key differs from the trusted one.",
});

/** Where a host's SSH host key stands. */
export enum HostKeyTrust {
  /** No key seen yet. */
  None = 'None',
  /** A key is trusted and the host presented no other. */
  Trusted = 'Trusted',
  /** The host presented a key other than the trusted one (an Admin may accept it). */
  Changed = 'Changed',
  /** The host presented a key and none is trusted (first contact does not trust keys here): an Admin may accept it. */
  Untrusted = 'Untrusted',
}
registerEnumType(HostKeyTrust, { name: 'HostKeyTrust', description: "Where a host's SSH host key stands." });

@ObjectType({ simpleResolvers: true, description: 'One host of a job: the vendor HostScanHostStatus, plus execution details.' })
export class HostScanHostStatus {
  @Field(() => GraphQLUUID, { description: 'The host scan record.' }) hostScanHostId!: string;
  @Field(() => GraphQLUUID, { nullable: true, description: 'Null once the host was removed from the inventory.' }) hostId!: string | null;
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) dnsHostName!: string | null;
  @Field(() => String, { nullable: true }) os!: string | null;
  @Field(() => String, { nullable: true }) ipAddress!: string | null;
  @Field(() => String, { nullable: true }) version!: string | null;
  @Field(() => ActionStatus) status!: ActionStatus;
  @Field(() => String) statusDescription!: string;
  @Field(() => ActionFailureReason) failureReason!: ActionFailureReason;
  @Field(() => Boolean, { description: 'Whether any probe reached the host.' }) hostConnected!: boolean;
  @Field(() => Int, { description: 'Attempts started, counting retries after interruptions.' }) attempts!: number;
  @Field(() => GraphQLDateTime, { nullable: true }) startedDateTimeUtc!: Date | null;
  @Field(() => GraphQLDateTime, { nullable: true }) finishedDateTimeUtc!: Date | null;
}

@ObjectType({ simpleResolvers: true, description: 'A job and the status of each of its hosts: the vendor HostScanJobStatus.' })
export class HostScanJobStatus {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => ActionStatus) status!: ActionStatus;
  @Field(() => String) statusDescription!: string;
  @Field(() => [HostScanHostStatus]) hostScanHostStatus!: HostScanHostStatus[];
  // Here and not only on HostScanJob: mutation replies and subscription events arrive in any order, and a
  // client keeps the state with the largest revision.
  @Field(() => Int, { description: 'Grows with every change; later states have larger revisions.' }) revision!: number;
  @Field(() => GraphQLUUID, {
    nullable: true,
    description: 'In scheduleHostScans replies, the batch that call made (see hostScanBatch); null elsewhere, as a job can be in several batches.',
  })
  batchId?: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'A job with who created it and when.' })
export class HostScanJob extends HostScanJobStatus {
  @Field(() => String, { nullable: true, description: "The creator's token subject (sub)." }) createdBy!: string | null;
  @Field(() => String, { nullable: true }) createdByUserName!: string | null;
  @Field(() => String, { nullable: true, description: 'The address the job was requested from.' }) createdFromAddress!: string | null;
  @Field(() => GraphQLUUID, { description: 'Identifies the database the job lives in.' }) nodeId!: string;
  @Field(() => GraphQLDateTime) createdDateTimeUtc!: Date;
  @Field(() => GraphQLDateTime) modifiedDateTimeUtc!: Date;
  @Field(() => GraphQLUUID, { nullable: true, description: 'The recurring schedule whose firing made the job.' }) scheduleId!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'A machine in the inventory, with what its last scan found.' })
export class Host {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) dnsHostName!: string | null;
  @Field(() => String, { nullable: true }) ipAddress!: string | null;
  @Field(() => String, { nullable: true }) os!: string | null;
  @Field(() => String, { nullable: true }) version!: string | null;
  @Field(() => Int, { nullable: true, description: 'SSH port; 22 when null.' }) sshPort!: number | null;
  @Field(() => Int, { nullable: true, description: 'WinRM HTTP port; 5985 when null.' }) winRmPort!: number | null;
  @Field(() => GraphQLDateTime, { nullable: true }) lastScanTimeUtc!: Date | null;
  @Field(() => GraphQLDateTime, { nullable: true }) lastScanStartTimeUtc!: Date | null;
  @Field(() => ActionStatus, { nullable: true, description: 'How the last scan that ran ended (cancelled ones do not count); null before the first.' })
  lastScanStatus!: ActionStatus | null;
  @Field(() => String, { nullable: true, description: 'The credential scans log in with; null: scans only probe and read the host key.' }) credentialName!: string | null;
  @Field(() => GraphQLUUID, { nullable: true }) credentialId!: string | null;
  @Field(() => SshTrustAction, { description: 'What a scan does when the host key changed.' }) sshTrust!: SshTrustAction;
  @Field(() => Boolean, { description: 'Whether the first host key seen is trusted (the vendor\'s acceptThumbprintOnFirstDiscovery).' }) acceptKeyOnFirstContact!: boolean;
  @Field(() => String, { nullable: true, description: 'The trusted SSH host key, SHA256:… as OpenSSH shows it.' }) sshHostKeyFingerprint!: string | null;
  @Field(() => String, { nullable: true }) sshHostKeyAlgorithm!: string | null;
  @Field(() => String, { nullable: true, description: 'A key the host presented that is not trusted; acceptHostKey trusts it.' }) sshHostKeyPresented!: string | null;
  @Field(() => HostKeyTrust) sshHostKeyTrust!: HostKeyTrust;
  @Field(() => GraphQLDateTime) createdDateTimeUtc!: Date;
  @Field(() => GraphQLDateTime) modifiedDateTimeUtc!: Date;
}

@InputType({ description: 'A host to add or update: by id when given, else by name (case-insensitive).' })
export class HostInput {
  @Field(() => ID, { nullable: true }) id?: string | null;
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) dnsHostName?: string | null;
  @Field(() => String, { nullable: true }) ipAddress?: string | null;
  @Field(() => Int, { nullable: true }) sshPort?: number | null;
  @Field(() => Int, { nullable: true }) winRmPort?: number | null;
  @Field(() => ID, { nullable: true, description: 'The credential to log in with; null removes it; left out keeps the host\'s.' }) credentialId?: string | null;
  @Field(() => String, { nullable: true, description: 'The credential by name, instead of credentialId.' }) credentialName?: string | null;
  @Field(() => SshTrustAction, { nullable: true, description: 'Left out keeps the host\'s (ErrorOnThumbprintMismatch for a new host).' }) sshTrust?: SshTrustAction | null;
  @Field(() => Boolean, { nullable: true, description: 'Left out keeps the host\'s (true for a new host).' }) acceptKeyOnFirstContact?: boolean | null;
}

@ObjectType({ simpleResolvers: true })
export class PageInfo {
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => String, { nullable: true, description: 'Pass as `after` to get the next page.' }) endCursor!: string | null;
}

@ObjectType({ simpleResolvers: true })
export class HostScanJobEdge {
  @Field(() => String) cursor!: string;
  @Field(() => HostScanJob) node!: HostScanJob;
}

@ObjectType({ simpleResolvers: true, description: 'Jobs, newest first.' })
export class HostScanJobConnection {
  @Field(() => [HostScanJobEdge]) edges!: HostScanJobEdge[];
  @Field(() => [HostScanJob]) nodes!: HostScanJob[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ simpleResolvers: true })
export class HostEdge {
  @Field(() => String) cursor!: string;
  @Field(() => Host) node!: Host;
}

@ObjectType({ simpleResolvers: true, description: 'Hosts by name.' })
export class HostConnection {
  @Field(() => [HostEdge]) edges!: HostEdge[];
  @Field(() => [Host]) nodes!: Host[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ simpleResolvers: true, description: "One schedule call's jobs, counted by the state of their host scans." })
export class HostScanBatch {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => Int, { description: 'Host scans in the batch.' }) total!: number;
  @Field(() => Int) queued!: number;
  @Field(() => Int) running!: number;
  @Field(() => Int, { description: 'Paused; they start again when resumed.' }) paused!: number;
  @Field(() => Int, { description: 'Complete, CompletedWithErrors or CompletedNotRun.' }) complete!: number;
  @Field(() => Int) failed!: number;
  @Field(() => Int) cancelled!: number;
  @Field(() => Float, { description: 'Finished (complete, failed or cancelled) per hundred, to one decimal.' }) percent!: number;
  @Field(() => Int, { nullable: true, description: 'What is left at the rate so far; null before the first scan finishes or while only paused scans are left.' })
  etaSeconds!: number | null;
  @Field(() => GraphQLDateTime) createdDateTimeUtc!: Date;
}
