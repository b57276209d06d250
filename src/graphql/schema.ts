import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { AuditService } from '../audit-service';
import type { HostScanService } from '../service';
import { AuditResolver } from './audit';
import { INVENTORY_RESOLVERS } from './inventory';
import { HostResolver, JobResolver } from './resolvers';

/** The services resolvers call. */
export interface GraphQLServices {
  scans: HostScanService;
  audit: AuditService;
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
    // The inventory's resolvers take the service from the context (subscriptions need it there anyway).
    ...INVENTORY_RESOLVERS.map((cls) => [cls, new cls()] as const),
  ]);
  return buildSchema({
    resolvers: [JobResolver, HostResolver, AuditResolver, ...INVENTORY_RESOLVERS],
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
