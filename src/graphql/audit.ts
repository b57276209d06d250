import { GraphQLDateTime, GraphQLJSONObject } from 'graphql-scalars';
import { Arg, Ctx, Field, ID, Int, ObjectType, Query, Resolver } from 'type-graphql';
import type { AuditService } from '../audit-service';
import type { AuditRecord as AuditRecordModel } from '../store';
import type { GraphQLContext } from './context';
import { PageInfo } from './types';

@ObjectType({ simpleResolvers: true, description: 'One change, who made it and from where. Never holds a secret.' })
export class AuditRecord {
  @Field(() => ID) id!: string;
  @Field(() => GraphQLDateTime) at!: Date;
  @Field(() => String, { description: 'What was done, e.g. jobs.schedule, job.cancel, hosts.upsert, host.remove.' }) action!: string;
  @Field(() => String, { nullable: true, description: "The caller's token subject." }) subject!: string | null;
  @Field(() => [String]) roles!: string[];
  @Field(() => String, { nullable: true }) address!: string | null;
  @Field(() => String, { nullable: true, description: 'The request trace id, as its logs and ProblemDetails carry it.' }) traceId!: string | null;
  @Field(() => String, { nullable: true, description: 'The id(s) of what changed.' }) target!: string | null;
  @Field(() => GraphQLJSONObject, { description: 'What changed.' }) details!: Record<string, unknown>;
}

@ObjectType({ simpleResolvers: true })
export class AuditRecordConnection {
  @Field(() => [AuditRecord]) nodes!: AuditRecord[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@Resolver()
export class AuditResolver {
  constructor(private readonly audit: AuditService) {}

  @Query(() => AuditRecordConnection, { description: 'Admin only. The audit trail, newest first.' })
  async auditRecords(
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 50, description: '1 to 500.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('subject', () => String, { nullable: true }) subject: string | null,
    @Arg('action', () => String, { nullable: true }) action: string | null,
    @Arg('since', () => GraphQLDateTime, { nullable: true }) since: Date | null,
    @Arg('until', () => GraphQLDateTime, { nullable: true }) until: Date | null,
  ): Promise<AuditRecordConnection> {
    const page = await this.audit.list(ctx.principal, { first, after, subject, action, since, until });
    const nodes: AuditRecordModel[] = page.items;
    return { nodes, pageInfo: { hasNextPage: page.hasMore, endCursor: nodes.at(-1)?.id ?? null } };
  }
}
