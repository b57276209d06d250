import { GraphQLDateTime, GraphQLUUID } from 'graphql-scalars';
import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { ScheduleService, ScheduleView } from '../schedule-service';
import type { GraphQLContext } from './context';

@ObjectType({ simpleResolvers: true, description: 'A recurring scan: which hosts, a cron expression in a time zone, and whether it is on.' })
export class ScanSchedule {
  @Field(() => GraphQLUUID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String, { description: 'Five fields: minute hour day-of-month month day-of-week.' }) cron!: string;
  @Field(() => String, { description: 'IANA time zone the expression is read in.' }) timeZone!: string;
  @Field(() => [GraphQLUUID], { nullable: true, description: 'Set when the schedule scans these hosts.' }) hostIds!: string[] | null;
  @Field(() => String, { nullable: true, description: 'Set when it scans hosts whose names match (`*` any run, `?` one character).' }) namePattern!: string | null;
  @Field(() => Boolean, { description: 'Whether it scans every host.' }) allHosts!: boolean;
  @Field(() => Boolean, { description: 'False: paused, nothing fires.' }) enabled!: boolean;
  @Field(() => [GraphQLDateTime], { description: 'The next slots it fires at (none while paused).' }) nextRuns!: Date[];
  @Field(() => GraphQLDateTime, { nullable: true, description: 'The newest slot that fired.' }) lastRun!: Date | null;
  @Field(() => GraphQLDateTime) createdDateTimeUtc!: Date;
  @Field(() => GraphQLDateTime) modifiedDateTimeUtc!: Date;
}

@InputType({ description: "The vendor's ActionJobSchedule recurrence, turned into a cron expression." })
export class VendorRecurrenceInput {
  @Field(() => Int, { description: 'RecurrenceType: Minutes 1, Daily 2, Weekly 3, Monthly 4.' }) recurrenceType!: number;
  @Field(() => Int, { nullable: true }) hour?: number | null;
  @Field(() => Int, { nullable: true }) minute?: number | null;
  @Field(() => Int, { nullable: true, description: 'System.DayOfWeek: Sunday 0 to Saturday 6.' }) dayOfWeek?: number | null;
  @Field(() => Int, { nullable: true }) dayOfMonth?: number | null;
  @Field(() => Int, { nullable: true, description: 'Minutes: every this many minutes (a divisor of 60).' }) recurrenceInterval?: number | null;
}

@InputType({ description: 'Give exactly one of hostIds, namePattern or allHosts: true; and a cron expression or a vendor recurrence.' })
export class ScanScheduleInput {
  @Field(() => String) name!: string;
  @Field(() => String, { nullable: true, description: 'Five fields: minute hour day-of-month month day-of-week.' }) cron?: string | null;
  @Field(() => VendorRecurrenceInput, { nullable: true }) recurrence?: VendorRecurrenceInput | null;
  @Field(() => String, { defaultValue: 'UTC' }) timeZone!: string;
  @Field(() => [ID], { nullable: true }) hostIds?: string[] | null;
  @Field(() => String, { nullable: true }) namePattern?: string | null;
  @Field(() => Boolean, { nullable: true }) allHosts?: boolean | null;
  @Field(() => Boolean, { defaultValue: true }) enabled!: boolean;
}

const toSchedule = (s: ScheduleView): ScanSchedule => ({
  id: s.id,
  name: s.name,
  cron: s.cron,
  timeZone: s.timeZone,
  hostIds: s.hosts.hostIds ?? null,
  namePattern: s.hosts.namePattern ?? null,
  allHosts: s.hosts.allHosts === true,
  enabled: s.enabled,
  nextRuns: s.nextRuns,
  lastRun: s.lastSlot,
  createdDateTimeUtc: s.createdAt,
  modifiedDateTimeUtc: s.modifiedAt,
});

// Input objects from type-graphql are class instances; the service reads plain fields.
const plain = (input: ScanScheduleInput) => ({ ...input, recurrence: input.recurrence ? { ...input.recurrence } : input.recurrence });

@Resolver()
export class ScheduleResolver {
  constructor(private readonly schedules: ScheduleService) {}

  @Query(() => [ScanSchedule], { description: 'Recurring scans by name, with their next runs. Any scan role.' })
  async scanSchedules(
    @Ctx() ctx: GraphQLContext,
    @Arg('nextRuns', () => Int, { defaultValue: 3, description: '0 to 20.' }) nextRuns: number,
  ): Promise<ScanSchedule[]> {
    return (await this.schedules.list(ctx.principal, { nextRuns })).map(toSchedule);
  }

  @Mutation(() => ScanSchedule, { description: 'Admin only.' })
  async createScanSchedule(@Ctx() ctx: GraphQLContext, @Arg('schedule', () => ScanScheduleInput) schedule: ScanScheduleInput): Promise<ScanSchedule> {
    return toSchedule(await this.schedules.create(ctx.principal, { schedule: plain(schedule) }));
  }

  @Mutation(() => ScanSchedule, { description: 'Admin only. Replaces the settings; enabled: false pauses, true resumes from now on.' })
  async updateScanSchedule(
    @Ctx() ctx: GraphQLContext,
    @Arg('id', () => ID) id: string,
    @Arg('schedule', () => ScanScheduleInput) schedule: ScanScheduleInput,
  ): Promise<ScanSchedule> {
    return toSchedule(await this.schedules.update(ctx.principal, { id, schedule: plain(schedule) }));
  }

  @Mutation(() => Boolean, { description: 'Admin only. Its jobs stay, still naming it.' })
  async deleteScanSchedule(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    return this.schedules.remove(ctx.principal, { id });
  }
}
