import { Arg, Ctx, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import { ActionStatus, type BatchProgress, type Job } from '../model';
import type { HostScanService } from '../service';
import type { GraphQLContext } from './context';
import { toBatch, toHost, toHostConnection, toJob, toJobConnection, toJobStatus } from './map';
import { Host, HostConnection, HostInput, HostScanBatch, HostScanJob, HostScanJobConnection, HostScanJobStatus } from './types';

// Thin resolvers: arguments in, one service call, GraphQL objects out. Roles and validation are the
// service's, so GraphQL and REST answer the same input the same way.

@Resolver()
export class JobResolver {
  constructor(private readonly service: HostScanService) {}

  @Query(() => HostScanJob, { nullable: true, description: 'One job; null and a NOT_FOUND error when there is none.' })
  async hostScanJob(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<HostScanJob> {
    return toJob(await this.service.getJob(ctx.principal, { id }));
  }

  @Query(() => HostScanJobConnection, { description: 'Jobs, newest first.' })
  async hostScanJobs(
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 20, description: '1 to 100.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('status', () => ActionStatus, { nullable: true }) status: ActionStatus | null,
  ): Promise<HostScanJobConnection> {
    return toJobConnection(await this.service.listJobs(ctx.principal, { first, after, status }));
  }

  @Query(() => HostScanJob, { nullable: true, description: "The host's latest job; null and a NOT_FOUND error when it has none." })
  async hostScanJobForHost(@Ctx() ctx: GraphQLContext, @Arg('hostId', () => ID) hostId: string): Promise<HostScanJob> {
    return toJob(await this.service.jobForHost(ctx.principal, { hostId }));
  }

  @Mutation(() => [HostScanJobStatus], {
    description: 'One job per distinct host, in request order; a host with a queued or running job gets that job back.',
  })
  async scheduleHostScans(
    @Ctx() ctx: GraphQLContext,
    @Arg('hostIds', () => [ID]) hostIds: string[],
  ): Promise<HostScanJobStatus[]> {
    const { batchId, jobs } = await this.service.scheduleBatch(ctx.principal, { hostIds });
    return jobs.map((job) => ({ ...toJobStatus(job), batchId }));
  }

  @Mutation(() => HostScanJobStatus, {
    description: 'Queued scans wait Paused and start no new host scan until resumed; a running scan finishes and records its result. Idempotent.',
  })
  async pauseHostScanJob(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<HostScanJobStatus> {
    return toJobStatus(await this.service.pauseJob(ctx.principal, { id }));
  }

  @Mutation(() => HostScanJobStatus, { description: 'Paused scans are queued again. Idempotent.' })
  async resumeHostScanJob(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<HostScanJobStatus> {
    return toJobStatus(await this.service.resumeJob(ctx.principal, { id }));
  }

  @Mutation(() => HostScanBatch, { description: "Pause every job of the batch, as pauseHostScanJob does (jobs shared with other batches pause there too)." })
  async pauseHostScanBatch(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<HostScanBatch> {
    return toBatch(await this.service.pauseBatch(ctx.principal, { id }));
  }

  @Mutation(() => HostScanBatch, { description: "Resume every job of the batch." })
  async resumeHostScanBatch(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<HostScanBatch> {
    return toBatch(await this.service.resumeBatch(ctx.principal, { id }));
  }

  @Query(() => HostScanBatch, { nullable: true, description: 'A schedule call\'s progress; null and a NOT_FOUND error for an unknown id.' })
  async hostScanBatch(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<HostScanBatch> {
    return toBatch(await this.service.getBatch(ctx.principal, { id }));
  }

  @Subscription(() => HostScanBatch, {
    description: 'The batch as it is now, then whenever its counts change (a few times a second at most), completing once nothing is queued, running or paused.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { id: string }, GraphQLContext>) =>
      context.service.watchBatch(context.principal, { id: args.id }),
  })
  hostScanBatchProgress(@Root() progress: BatchProgress, @Arg('id', () => ID) _id: string): HostScanBatch {
    return toBatch(progress);
  }

  @Mutation(() => HostScanJobStatus, { description: 'Queued scans end Cancelled at once; running ones are aborted.' })
  async cancelHostScanJob(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<HostScanJobStatus> {
    return toJobStatus(await this.service.cancelJob(ctx.principal, { id }));
  }

  @Subscription(() => HostScanJobStatus, {
    description:
      'With jobIds: each job as it is now, then every change, completing when all are terminal. Without: every change of every job.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { jobIds?: string[] | null }, GraphQLContext>) =>
      context.service.watchJobs(context.principal, { jobIds: args.jobIds }),
  })
  hostScanJobStatus(
    @Root() job: Job,
    @Arg('jobIds', () => [ID], { nullable: true }) _jobIds: string[] | null,
  ): HostScanJobStatus {
    return toJobStatus(job);
  }
}

@Resolver()
export class HostResolver {
  constructor(private readonly service: HostScanService) {}

  @Query(() => HostConnection, { description: 'Hosts by name; `search` matches name, DNS name or address.' })
  async hosts(
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 50, description: '1 to 1000.' }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('search', () => String, { nullable: true }) search: string | null,
  ): Promise<HostConnection> {
    return toHostConnection(await this.service.listHosts(ctx.principal, { first, after, search }));
  }

  @Query(() => Host, { nullable: true, description: 'One host; null and a NOT_FOUND error when there is none.' })
  async host(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Host> {
    return toHost(await this.service.getHost(ctx.principal, { id }));
  }

  @Mutation(() => [Host], { description: 'Admin only. All or nothing.' })
  async upsertHosts(@Ctx() ctx: GraphQLContext, @Arg('hosts', () => [HostInput]) hosts: HostInput[]): Promise<Host[]> {
    return (await this.service.upsertHosts(ctx.principal, { hosts })).map(toHost);
  }

  @Mutation(() => Boolean, { description: 'Admin only. Past scans of the host are kept.' })
  async removeHost(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    return this.service.removeHost(ctx.principal, { id });
  }
}
