import { GraphQLDateTime } from 'graphql-scalars';
import { Ctx, Field, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { unavailable } from '../errors';
import type { KeyRotation, SigningKeyView } from '../key-rotation';
import type { GraphQLContext } from './context';

// Admin only, as the service decides. Only public facts about a key: its id and its dates, never its halves.

@ObjectType({ simpleResolvers: true, description: "One of the gateway's token signing keys, as published at /.well-known/jwks.json." })
export class SigningKey {
  @Field(() => String, { description: 'The JWK thumbprint, as the kid in the JWKS and in token headers.' }) kid!: string;
  @Field(() => String, { description: 'next (published, not signing yet), signing, or verifying (until it retires).' }) state!: string;
  @Field(() => GraphQLDateTime) signsFrom!: Date;
  @Field(() => GraphQLDateTime, { nullable: true, description: 'When it stops verifying; null while it has no successor.' }) retiresAt!: Date | null;
}

const view = (k: SigningKeyView): SigningKey => k;
const NO_KEYS = 'This gateway keeps no signing keys: CREDENTIALS_KEY is not set (NODE_ENV=production).';

@Resolver()
export class SigningKeyResolver {
  constructor(private readonly rotation: KeyRotation | null) {}

  @Query(() => [SigningKey], { description: 'Admin only. The published keys, the next one first.' })
  signingKeys(@Ctx() ctx: GraphQLContext): SigningKey[] {
    if (!this.rotation) throw unavailable(NO_KEYS);
    return this.rotation.keys(ctx.principal).map(view);
  }

  @Mutation(() => SigningKey, {
    description: 'Admin only. Publish a new signing key now; it signs after the usual lead (TOKEN_KEY_ROTATE_DAYS / 4, at most a day), and the current key keeps verifying for a token lifetime after that.',
  })
  async rotateSigningKey(@Ctx() ctx: GraphQLContext): Promise<SigningKey> {
    if (!this.rotation) throw unavailable(NO_KEYS);
    return view(await this.rotation.rotateNow(ctx.principal));
  }
}
