import { GraphQLDateTime, GraphQLUUID } from 'graphql-scalars';
import { Extensions, Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ServiceStartType, UserPrivilege } from '../inventory/model';
import { PageInfo } from './types';

// The inventory's GraphQL shapes: what a credentialed scan found on a host. The lists of a snapshot, a user
// and a group are field resolvers (inventory.ts), read in batches per request.

registerEnumType(UserPrivilege, {
  name: 'UserPrivilege',
  description: 'Vendor SbPAM.ActiveDirectory.Models.Enums.UserPrivilege (REST sends the integer value).',
});
registerEnumType(ServiceStartType, {
  name: 'ServiceStartType',
  description: 'Vendor SbPAM.Models.Common.ServiceStartType (REST sends the integer value).',
});

@ObjectType({ description: 'A local account as one scan found it. Its id is the same in every scan of the host.' })
export class HostUser {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String, { description: 'The GECOS field as written.' }) displayName!: string;
  @Field(() => Int) uid!: number;
  @Field(() => Int, { description: "The primary group's id." }) gid!: number;
  @Field(() => String) home!: string;
  @Field(() => String) shell!: string;
  @Field(() => UserPrivilege) privilege!: UserPrivilege;
  @Field(() => Boolean, { description: 'SuperUser, Administrator, DomainAdmin or EnterpriseAdmin.' }) isPrivileged!: boolean;
  @Field(() => [String], { description: 'Why the privilege was given, e.g. `uid 0`, `member of sudo`.' }) privilegeReasons!: string[];
  @Field(() => Boolean) isDisabled!: boolean;
  @Field(() => [String], { description: 'Why the account is disabled; empty when it is not.' }) disabledReasons!: string[];
  snapshotId!: string;
}

@ObjectType({ description: 'A member of a group, by name; `user` is its account when the host has one by that name.' })
export class GroupMember {
  @Field(() => String) name!: string;
  snapshotId!: string;
}

@ObjectType({ description: 'A local group as one scan found it.' })
export class HostGroup {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => Int) gid!: number;
  members!: string[];
  snapshotId!: string;
}

@ObjectType({ simpleResolvers: true, description: 'A systemd service unit.' })
export class HostService {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => ServiceStartType) startType!: ServiceStartType;
  @Field(() => String, { description: 'The unit-file state the start type was derived from (enabled, static, masked…).' }) unitFileState!: string;
  @Field(() => String, { description: '`User=` of the unit; root when it names none (systemd default).' }) runAs!: string;
  @Field(() => String, { nullable: true, description: 'The first `ExecStart=` line.' }) command!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'A cron entry or a systemd timer.' })
export class HostScheduledTask {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String, { description: 'crontab, cron.d, user-crontab or systemd-timer.' }) source!: string;
  @Field(() => String, { description: 'The file it came from.' }) taskPath!: string;
  @Field(() => String) schedule!: string;
  @Field(() => String) command!: string;
  @Field(() => String, { nullable: true, description: 'Null when unknown (root for timers).' }) runAs!: string | null;
}

@ObjectType({ simpleResolvers: true, description: "One difference between a host's scan and the one before it." })
export class InventoryChange {
  @Field(() => String, {
    description: 'account-added, account-removed, privilege-changed, account-disabled, account-enabled, service-added, service-removed, task-added, task-removed or host-key-changed.',
  })
  kind!: string;
  @Field(() => String, { description: "The account or service name, the task's identity, or the new host key fingerprint." }) subject!: string;
  @Field(() => Boolean, { description: 'About a privileged account (before or after) or the host key.' }) privileged!: boolean;
  @Field(() => String, { nullable: true }) before!: string | null;
  @Field(() => String, { nullable: true }) after!: string | null;
}

@ObjectType({ description: 'What one credentialed scan found on a host (the vendor HostScanHost with its lists).' })
export class HostSnapshot {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => GraphQLUUID) hostId!: string;
  @Field(() => GraphQLUUID, { nullable: true, description: 'The host scan that recorded it.' }) scanId!: string | null;
  @Field(() => String, { nullable: true }) os!: string | null;
  @Field(() => String, { nullable: true }) version!: string | null;
  @Field(() => String, { nullable: true }) hostName!: string | null;
  @Field(() => String, { nullable: true }) dnsHostName!: string | null;
  @Field(() => String, { nullable: true, description: 'SHA-256 fingerprint of the SSH host key the scan saw.' }) sshHostKeyFingerprint!: string | null;
  @Field(() => String, { nullable: true }) sshHostKeyAlgorithm!: string | null;
  @Field(() => [String], { description: 'Parts that could not be read or parsed; empty when all were.' }) notes!: string[];
  @Field(() => GraphQLDateTime) scannedAt!: Date;
}

@ObjectType('SshHostKey', { simpleResolvers: true, description: "How the host's SSH host key is trusted (the vendor's SshTrustActionType)." })
export class HostKeyTrust {
  @Field(() => String, { description: 'AlwaysTrustIgnoreThumbprint, WarnOnThumbprintMismatch or ErrorOnThumbprintMismatch.' }) policy!: string;
  @Field(() => Boolean, { description: 'Whether the first key seen is trusted (acceptThumbprintOnFirstDiscovery).' }) acceptOnFirstContact!: boolean;
  @Field(() => String, { nullable: true, description: 'The trusted SHA-256 fingerprint; null before first contact.' }) trustedFingerprint!: string | null;
  @Field(() => String, { nullable: true }) trustedAlgorithm!: string | null;
  @Field(() => String, { nullable: true, description: 'A different key the host presented, not trusted by its policy: an Admin may accept it.' })
  presentedFingerprint!: string | null;
  @Field(() => String, { description: 'unknown (no key yet), trusted, or mismatch (a different key was presented).' }) state!: string;
}

@ObjectType({ simpleResolvers: true })
export class HostSnapshotEdge {
  @Field(() => String) cursor!: string;
  @Field(() => HostSnapshot) node!: HostSnapshot;
}

@ObjectType({ simpleResolvers: true, description: "A host's scans that found an inventory, newest first (up to the retention)." })
export class HostSnapshotConnection {
  @Field(() => [HostSnapshotEdge]) edges!: HostSnapshotEdge[];
  @Field(() => [HostSnapshot]) nodes!: HostSnapshot[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType({ simpleResolvers: true, description: 'A new scan of a host and how it differs from the one before.' })
export class InventoryChangeEvent {
  @Field(() => GraphQLUUID) hostId!: string;
  @Field(() => GraphQLUUID, { description: 'The new snapshot (HostSnapshot.id).' }) snapshotId!: string;
  @Extensions({ listSize: 20 })
  @Field(() => [InventoryChange], { description: 'With privilegedOnly, only the privileged ones.' })
  changes!: InventoryChange[];
}
