import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { HostScanService } from '../service';
import { HostResolver, JobResolver } from './resolvers';

/**
 * Build the executable schema; resolvers get the service through a container we fill ourselves.
 * Without a service the schema can be printed but not executed.
 */
export async function buildGatewaySchema(service?: HostScanService): Promise<GraphQLSchema> {
  const instances = new Map<unknown, unknown>([
    [JobResolver, new JobResolver(service!)],
    [HostResolver, new HostResolver(service!)],
  ]);
  return buildSchema({
    resolvers: [JobResolver, HostResolver],
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
