import { GraphQLDateTime } from 'graphql-scalars';
import { Arg, Ctx, Field, ID, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { AccountService, AppView, UserView } from '../accounts';
import type { GraphQLContext } from './context';

// Admin only, as the service decides. Passwords go in as arguments and never come out; an API key comes
// out once, when it is made.

@ObjectType({ simpleResolvers: true, description: 'A person who signs in. Never shows the password or the TOTP seed.' })
export class User {
  @Field(() => ID) id!: string;
  @Field(() => String) login!: string;
  @Field(() => String, { nullable: true }) displayName!: string | null;
  @Field(() => [String]) roles!: string[];
  @Field(() => Boolean) disabled!: boolean;
  @Field(() => Boolean, { description: 'Whether TOTP is enrolled and confirmed by a first code.' }) totpEnrolled!: boolean;
  @Field(() => GraphQLDateTime) createdAt!: Date;
  @Field(() => GraphQLDateTime) modifiedAt!: Date;
}

@ObjectType({ simpleResolvers: true, description: 'An application account; signs in with its API key.' })
export class Application {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => [String]) roles!: string[];
  @Field(() => String, { description: 'The first characters of the key after sgk_, to tell keys apart.' }) keyPrefix!: string;
  @Field(() => Boolean) disabled!: boolean;
  @Field(() => GraphQLDateTime) createdAt!: Date;
  @Field(() => GraphQLDateTime) modifiedAt!: Date;
}

@ObjectType({ simpleResolvers: true })
export class ApplicationWithKey {
  @Field(() => Application) application!: Application;
  @Field(() => String, { description: 'The API key: shown this once, stored only as a hash.' }) apiKey!: string;
}

@ObjectType({ simpleResolvers: true })
export class TotpEnrolment {
  @Field(() => User) user!: User;
  @Field(() => String, { description: 'The otpauth:// URI for an authenticator app (as a QR code); shown this once.' }) uri!: string;
}

const user = (u: UserView): User => u;
const application = (a: AppView): Application => a;

@Resolver()
export class AccountResolver {
  constructor(private readonly accounts: AccountService) {}

  @Query(() => [User], { description: 'Admin only.' })
  async users(@Ctx() ctx: GraphQLContext): Promise<User[]> {
    return (await this.accounts.users(ctx.principal)).map(user);
  }

  @Query(() => [Application], { description: 'Admin only.' })
  async applications(@Ctx() ctx: GraphQLContext): Promise<Application[]> {
    return (await this.accounts.apps(ctx.principal)).map(application);
  }

  @Mutation(() => User, { description: 'Admin only. TOTP is enrolled at the first sign-in (or with enrolUserTotp).' })
  async createUser(
    @Ctx() ctx: GraphQLContext,
    @Arg('login', () => String) login: string,
    @Arg('password', () => String, { description: '12 to 1024 characters.' }) password: string,
    @Arg('roles', () => [String]) roles: string[],
    @Arg('displayName', () => String, { nullable: true }) displayName: string | null,
  ): Promise<User> {
    return user(await this.accounts.createUser(ctx.principal, { login, password, roles, displayName }));
  }

  @Mutation(() => User, { description: "Admin only. The user's live tokens stop working at once." })
  async setUserRoles(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string, @Arg('roles', () => [String]) roles: string[]): Promise<User> {
    return user(await this.accounts.setRoles(ctx.principal, id, roles));
  }

  @Mutation(() => User, { description: "Admin only. The user's live tokens stop working at once." })
  async resetUserPassword(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string, @Arg('password', () => String) password: string): Promise<User> {
    return user(await this.accounts.resetPassword(ctx.principal, id, password));
  }

  @Mutation(() => User, { description: "Admin only. The user's live tokens stop working and their WebSockets close (4403) at once." })
  async disableUser(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<User> {
    return user(await this.accounts.setDisabled(ctx.principal, id, true));
  }

  @Mutation(() => User, { description: 'Admin only.' })
  async enableUser(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<User> {
    return user(await this.accounts.setDisabled(ctx.principal, id, false));
  }

  @Mutation(() => TotpEnrolment, { description: 'Admin only. A new TOTP seed for the user, confirmed by their first code.' })
  async enrolUserTotp(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<TotpEnrolment> {
    const { user: u, uri } = await this.accounts.enrolTotp(ctx.principal, id);
    return { user: user(u), uri };
  }

  @Mutation(() => User, { description: 'Admin only. The user enrols again at the next sign-in.' })
  async resetUserTotp(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<User> {
    return user(await this.accounts.resetTotp(ctx.principal, id));
  }

  @Mutation(() => Boolean, { description: 'Admin only. False when there was no such user.' })
  async deleteUser(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    return this.accounts.deleteUser(ctx.principal, id);
  }

  @Mutation(() => ApplicationWithKey, { description: 'Admin only. An application with the App role and its API key.' })
  async createApplication(@Ctx() ctx: GraphQLContext, @Arg('name', () => String) name: string): Promise<ApplicationWithKey> {
    const made = await this.accounts.createApp(ctx.principal, { name });
    return { application: application(made.app), apiKey: made.apiKey };
  }

  @Mutation(() => ApplicationWithKey, { description: 'Admin only. The old key, its tokens and their WebSockets stop working at once.' })
  async rotateApplicationKey(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<ApplicationWithKey> {
    const made = await this.accounts.rotateAppKey(ctx.principal, id);
    return { application: application(made.app), apiKey: made.apiKey };
  }

  @Mutation(() => Boolean, { description: 'Admin only. False when there was no such application.' })
  async deleteApplication(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<boolean> {
    return this.accounts.deleteApp(ctx.principal, id);
  }
}
