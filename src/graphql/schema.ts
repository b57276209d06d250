import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { AccountService } from '../accounts';
import type { AuditService } from '../audit-service';
import type { CredentialService } from '../credential-service';
import type { HostScanService } from '../service';
import type { ScheduleService } from '../schedule-service';
import { AccountResolver } from './accounts';
import { AuditResolver } from './audit';
import { CredentialResolver } from './credentials';
import { INVENTORY_RESOLVERS } from './inventory';
import { HostResolver, JobResolver } from './resolvers';
import { ScheduleResolver } from './schedules';
import { SigningKeyResolver } from './signing-keys';
import type { KeyRotation } from '../key-rotation';

/** The services resolvers call. */
export interface GraphQLServices {
  scans: HostScanService;
  audit: AuditService;
  credentials: CredentialService;
  schedules: ScheduleService;
  accounts: AccountService;
  /** Null where no signing key is kept (production without CREDENTIALS_KEY). */
  signingKeys: KeyRotation | null;
}

/**
 * Build the executable schema; resolvers get the services through a container we fill ourselves.
 * Without services the schema can be printed but not executed.
 */
export async function buildGatewaySchema(services?: GraphQLServices): Promise<GraphQLSchema> {
  const instances = new Map<unknown, unknown>([
    [JobResolver, new JobResolver(services?.scans as HostScanService)],
    [HostResolver, new HostResolver(services?.scans as HostScanService)],
    [AuditResolver, new AuditResolver(services?.audit as AuditService)],
    [CredentialResolver, new CredentialResolver(services?.credentials as CredentialService)],
    [ScheduleResolver, new ScheduleResolver(services?.schedules as ScheduleService)],
    [AccountResolver, new AccountResolver(services?.accounts as AccountService)],
    [SigningKeyResolver, new SigningKeyResolver(services?.signingKeys ?? null)],
    // The inventory's resolvers take the service from the context (subscriptions need it there anyway).
    ...INVENTORY_RESOLVERS.map((cls) => [cls, new cls()] as const),
  ]);
  return buildSchema({
    resolvers: [JobResolver, HostResolver, AuditResolver, CredentialResolver, ScheduleResolver, AccountResolver, SigningKeyResolver, ...INVENTORY_RESOLVERS],
    container: { get: (cls) => instances.get(cls) },
    // type-graphql insists on a PubSub even though our one subscription streams from the service
    // (with its own bounded, coalescing buffers); nothing ever calls this one.
    pubSub: {
      publish: () => {
        throw new Error('unused: subscriptions stream from HostScanService.watchJobs');
      },
      subscribe: () => {
        throw new Error('unused: subscriptions stream from HostScanService.watchJobs');
      },
    },
    validate: false,
  });
}

export const SCHEMA_HEADER = '# Generated from the code by `npm run schema`; a test fails when it drifts. Do not edit.\n\n';

/** The SDL committed as schema.graphql. */
export const schemaText = (schema: GraphQLSchema): string => SCHEMA_HEADER + printSchema(schema) + '\n';
