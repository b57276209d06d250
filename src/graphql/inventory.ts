import { Arg, Ctx, Extensions, FieldResolver, ID, Int, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import { isPrivileged } from '../inventory/diff';
import { SshTrustAction } from '../inventory/model';
import { snapshotCursor } from '../inventory-service';
import type { InventoryUpdate, SnapshotGroup, SnapshotRecord, SnapshotUser } from '../store';
import type { GraphQLContext } from './context';
import { loadersFor } from './inventory-loaders';
import {
  GroupMember, HostGroup, HostKeyTrust, HostScheduledTask, HostService, HostSnapshot, HostSnapshotConnection, HostUser, InventoryChange, InventoryChangeEvent,
} from './inventory-types';
import { Host } from './types';

// Thin resolvers over InventoryService: every list is read through the request's loaders (one store
// call per list and level of the selection), and the service checks the roles.

const toSnapshot = (s: SnapshotRecord): HostSnapshot => ({
  id: s.id,
  hostId: s.hostId,
  scanId: s.scanId,
  os: s.os,
  version: s.version,
  hostName: s.hostName,
  dnsHostName: s.dnsHostName,
  sshHostKeyFingerprint: s.sshHostKey,
  sshHostKeyAlgorithm: s.sshHostKeyAlgorithm,
  notes: s.notes,
  scannedAt: s.createdAt,
});

const toUser = (u: SnapshotUser): HostUser => ({
  id: u.id,
  snapshotId: u.snapshotId,
  name: u.name,
  displayName: u.displayName,
  uid: u.unixId,
  gid: u.unixGroupId,
  home: u.homeDirectory,
  shell: u.shell,
  privilege: u.privilege,
  isPrivileged: isPrivileged(u.privilege),
  privilegeReasons: u.privilegeReasons,
  isDisabled: u.isDisabled,
  disabledReasons: u.disabledReasons,
});

const toGroup = (g: SnapshotGroup): HostGroup => ({ id: g.id, snapshotId: g.snapshotId, name: g.name, gid: g.unixId, members: g.members });

const loaders = (ctx: GraphQLContext) => loadersFor(ctx, ctx.inventory, ctx.principal);

@Resolver(() => Host)
export class HostInventoryResolver {
  @FieldResolver(() => HostSnapshot, { nullable: true, description: 'What the latest credentialed scan found; null before the first.' })
  async latestScan(@Root() host: Host, @Ctx() ctx: GraphQLContext): Promise<HostSnapshot | null> {
    const snapshot = await loaders(ctx).latest.load(host.id);
    return snapshot && toSnapshot(snapshot);
  }

  @FieldResolver(() => HostKeyTrust, { description: 'The SSH host key the host is trusted by, and its policy.' })
  async sshHostKey(@Root() host: Host, @Ctx() ctx: GraphQLContext): Promise<HostKeyTrust> {
    const k = await loaders(ctx).hostKeys.load(host.id);
    if (!k) return { policy: SshTrustAction[SshTrustAction.ErrorOnThumbprintMismatch], acceptOnFirstContact: true, trustedFingerprint: null, trustedAlgorithm: null, presentedFingerprint: null, state: 'unknown' };
    return {
      policy: SshTrustAction[k.trust] ?? String(k.trust),
      acceptOnFirstContact: k.acceptOnFirstContact,
      trustedFingerprint: k.trustedKey,
      trustedAlgorithm: k.trustedKeyAlgorithm,
      presentedFingerprint: k.presentedKey,
      state: k.presentedKey ? 'mismatch' : k.trustedKey ? 'trusted' : 'unknown',
    };
  }

  @FieldResolver(() => HostSnapshotConnection, { description: "The host's credentialed scans, newest first (up to the retention)." })
  async scans(
    @Root() host: Host,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 10, description: '1 to 100.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<HostSnapshotConnection> {
    // A first page is batched across the hosts of the request; later pages go by their cursor, one host at a time.
    const page = after == null ? await loaders(ctx).firstScans(first).load(host.id) : await ctx.inventory.history(ctx.principal, { hostId: host.id, first, after });
    const edges = page.items.map((s) => ({ cursor: snapshotCursor(s), node: toSnapshot(s) }));
    return { edges, nodes: edges.map((e) => e.node), pageInfo: { hasNextPage: page.hasMore, endCursor: edges.at(-1)?.cursor ?? null } };
  }
}

// `listSize`: how many items the cost limit assumes a list without `first` holds (see cost.ts).
@Resolver(() => HostSnapshot)
export class SnapshotResolver {
  @Extensions({ listSize: 50 })
  @FieldResolver(() => [HostUser], { description: 'Accounts by name; `privileged: true` only SuperUser, Administrator, DomainAdmin and EnterpriseAdmin, `false` the rest.' })
  async users(
    @Root() snapshot: HostSnapshot,
    @Ctx() ctx: GraphQLContext,
    @Arg('privileged', () => Boolean, { nullable: true }) privileged: boolean | null,
  ): Promise<HostUser[]> {
    const users = await loaders(ctx).users.load(snapshot.id);
    return users.filter((u) => privileged == null || isPrivileged(u.privilege) === privileged).map(toUser);
  }

  @Extensions({ listSize: 60 })
  @FieldResolver(() => [HostGroup], { description: 'Groups by name.' })
  async groups(@Root() snapshot: HostSnapshot, @Ctx() ctx: GraphQLContext): Promise<HostGroup[]> {
    return (await loaders(ctx).groups.load(snapshot.id)).map(toGroup);
  }

  @Extensions({ listSize: 100 })
  @FieldResolver(() => [HostService], { description: 'Service units by name.' })
  async services(@Root() snapshot: HostSnapshot, @Ctx() ctx: GraphQLContext): Promise<HostService[]> {
    return (await loaders(ctx).services.load(snapshot.id)).map((s) => ({
      id: s.id,
      name: s.name,
      description: s.description,
      startType: s.startType,
      unitFileState: s.unitFileState,
      runAs: s.userName ?? 'root',
      command: s.binaryPathName,
    }));
  }

  @Extensions({ listSize: 20 })
  @FieldResolver(() => [HostScheduledTask], { description: 'Cron entries and systemd timers.' })
  async scheduledTasks(@Root() snapshot: HostSnapshot, @Ctx() ctx: GraphQLContext): Promise<HostScheduledTask[]> {
    return (await loaders(ctx).tasks.load(snapshot.id)).map((t) => ({
      id: t.id,
      name: t.name,
      source: t.source,
      taskPath: t.taskPath,
      schedule: t.schedule,
      command: t.command,
      runAs: t.userName,
    }));
  }

  @Extensions({ listSize: 20 })
  @FieldResolver(() => [InventoryChange], { description: 'How this scan differs from the one before it; empty for the first.' })
  async changesSincePrevious(@Root() snapshot: HostSnapshot, @Ctx() ctx: GraphQLContext): Promise<InventoryChange[]> {
    return (await loaders(ctx).changes.load(snapshot.id)).map(({ kind, subject, privileged, before, after }) => ({ kind, subject, privileged, before, after }));
  }
}

@Resolver(() => HostUser)
export class HostUserResolver {
  @Extensions({ listSize: 4 })
  @FieldResolver(() => [HostGroup], { description: 'Groups the account belongs to, its primary group included.' })
  async groups(@Root() user: HostUser, @Ctx() ctx: GraphQLContext): Promise<HostGroup[]> {
    return (await loaders(ctx).groups.load(user.snapshotId)).filter((g) => g.members.includes(user.name)).map(toGroup);
  }
}

@Resolver(() => HostGroup)
export class HostGroupResolver {
  @Extensions({ listSize: 4 })
  @FieldResolver(() => [GroupMember], { description: 'Listed members and the accounts whose primary group it is, by name.' })
  members(@Root() group: HostGroup): GroupMember[] {
    return group.members.map((name) => ({ name, snapshotId: group.snapshotId }));
  }
}

@Resolver(() => GroupMember)
export class GroupMemberResolver {
  @FieldResolver(() => HostUser, { nullable: true, description: 'The account by that name; null when the host has none (a name only /etc/group lists).' })
  async user(@Root() member: GroupMember, @Ctx() ctx: GraphQLContext): Promise<HostUser | null> {
    const user = (await loaders(ctx).users.load(member.snapshotId)).find((u) => u.name === member.name);
    return user ? toUser(user) : null;
  }
}

@Resolver()
export class InventorySubscriptionResolver {
  @Subscription(() => InventoryChangeEvent, {
    description: 'Every new scan of a host that differs from the one before, as scans complete; `hostIds` picks hosts, `privilegedOnly` privileged changes.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { hostIds?: string[] | null; privilegedOnly?: boolean | null }, GraphQLContext>) =>
      context.inventory.watch(context.principal, { hostIds: args.hostIds, privilegedOnly: args.privilegedOnly }),
  })
  inventoryChanges(
    @Root() update: InventoryUpdate,
    @Arg('hostIds', () => [ID], { nullable: true }) _hostIds: string[] | null,
    @Arg('privilegedOnly', () => Boolean, { defaultValue: false }) privilegedOnly: boolean,
  ): InventoryChangeEvent {
    const changes = privilegedOnly ? update.changes.filter((c) => c.privileged) : update.changes;
    return { hostId: update.hostId, snapshotId: update.snapshotId, changes: changes.map(({ kind, subject, privileged, before, after }) => ({ kind, subject, privileged, before, after })) };
  }
}

export const INVENTORY_RESOLVERS = [
  HostInventoryResolver, SnapshotResolver, HostUserResolver, HostGroupResolver, GroupMemberResolver, InventorySubscriptionResolver,
] as const;
