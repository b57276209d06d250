import { GraphQLDateTime, GraphQLUUID } from 'graphql-scalars';
import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import { credentialCursor, type CredentialService } from '../credential-service';
import { CredentialKind, type Credential as CredentialModel } from '../store';
import type { GraphQLContext } from './context';
import { toHost } from './map';
import { Host, PageInfo } from './types';

// Credentials over GraphQL: Admin only (the service checks), secrets write-only — no type here has a
// field that could carry one back.

registerEnumType(CredentialKind, { name: 'CredentialKind', description: 'How a credential logs in over SSH.' });

/** Hosts named per credential in a list; the rest are counted in hostCount. */
const HOSTS_SHOWN = 20;

@ObjectType({ simpleResolvers: true, description: 'A host that logs in with a credential.' })
export class CredentialHost {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => String) name!: string;
}

@ObjectType({ simpleResolvers: true, description: 'A service account scans log in with. Its secret is write-only: no field returns it.' })
export class Credential {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => CredentialKind) kind!: CredentialKind;
  @Field(() => String, { description: 'The account logged in as.' }) username!: string;
  @Field(() => GraphQLDateTime) createdAt!: Date;
  @Field(() => GraphQLDateTime) updatedAt!: Date;
  @Field(() => Int, { description: 'Hosts that log in with it.' }) hostCount!: number;
  @Field(() => [CredentialHost], { description: `Hosts that log in with it, by name (the first ${HOSTS_SHOWN}).` }) hosts!: CredentialHost[];
}

@ObjectType({ simpleResolvers: true, description: 'Credentials by name.' })
export class CredentialConnection {
  @Field(() => [Credential]) nodes!: Credential[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@InputType({ description: 'A new credential. Give `password` for SshPassword, `privateKey` (OpenSSH or PEM) and an optional `passphrase` for SshPrivateKey.' })
export class CreateCredentialInput {
  @Field(() => String) name!: string;
  @Field(() => CredentialKind) kind!: CredentialKind;
  @Field(() => String) username!: string;
  @Field(() => String, { nullable: true, description: 'Write-only.' }) password?: string | null;
  @Field(() => String, { nullable: true, description: 'Write-only.' }) privateKey?: string | null;
  @Field(() => String, { nullable: true, description: 'Write-only.' }) passphrase?: string | null;
}

@InputType({ description: 'What to change; what is left out stays. A new secret replaces the old one whole.' })
export class UpdateCredentialInput {
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => CredentialKind, { nullable: true, description: 'Changing it needs the new kind\'s secret.' }) kind?: CredentialKind | null;
  @Field(() => String, { nullable: true }) username?: string | null;
  @Field(() => String, { nullable: true, description: 'Write-only.' }) password?: string | null;
  @Field(() => String, { nullable: true, description: 'Write-only.' }) privateKey?: string | null;
  @Field(() => String, { nullable: true, description: 'Write-only.' }) passphrase?: string | null;
}

@Resolver()
export class CredentialResolver {
  constructor(private readonly service: CredentialService) {}

  @Query(() => CredentialConnection, { description: 'Admin only. Credentials by name, without their secrets.' })
  async credentials(
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<CredentialConnection> {
    const page = await this.service.list(ctx.principal, { first, after });
    const nodes = await this.withHosts(ctx, page.items);
    return { nodes, pageInfo: { hasNextPage: page.hasMore, endCursor: page.items.length > 0 ? credentialCursor(page.items.at(-1)!) : null } };
  }

  @Query(() => Credential, { nullable: true, description: 'Admin only. One credential; null and NOT_FOUND when there is none.' })
  async credential(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Credential> {
    return (await this.withHosts(ctx, [await this.service.get(ctx.principal, { id })]))[0]!;
  }

  @Mutation(() => Credential, { description: 'Admin only.' })
  async createCredential(@Ctx() ctx: GraphQLContext, @Arg('input', () => CreateCredentialInput) input: CreateCredentialInput): Promise<Credential> {
    return (await this.withHosts(ctx, [await this.service.create(ctx.principal, { ...input })]))[0]!;
  }

  @Mutation(() => Credential, { description: 'Admin only.' })
  async updateCredential(
    @Ctx() ctx: GraphQLContext,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateCredentialInput) input: UpdateCredentialInput,
  ): Promise<Credential> {
    return (await this.withHosts(ctx, [await this.service.update(ctx.principal, { ...input, id })]))[0]!;
  }

  @Mutation(() => Boolean, { description: 'Admin only. Refused (CONFLICT, naming how many) while hosts use it: point them at another credential, or none, first.' })
  async deleteCredential(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    return this.service.remove(ctx.principal, { id });
  }

  @Mutation(() => Host, { description: "Admin only. Trust the SSH host key the host presented (changed, or not trusted at first contact); `fingerprint` must be the one it presented." })
  async acceptHostKey(
    @Ctx() ctx: GraphQLContext,
    @Arg('hostId', () => ID) hostId: string,
    @Arg('fingerprint', () => String, { description: 'SHA256:… as the host shows it in sshHostKeyPresented.' }) fingerprint: string,
  ): Promise<Host> {
    return toHost(await this.service.acceptHostKey(ctx.principal, { hostId, fingerprint }));
  }

  private async withHosts(ctx: GraphQLContext, items: CredentialModel[]): Promise<Credential[]> {
    const using = await this.service.hostsUsing(ctx.principal, items.map((c) => c.id), HOSTS_SHOWN);
    return items.map((c) => ({ ...c, hosts: using.get(c.id) ?? [] }));
  }
}
