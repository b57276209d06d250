import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

type Gateway = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type Executor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;
/** A document's runs so far, and once compiled its function (null: graphql-jit could not compile it). */
interface Compiled {
  runs: number;
  query: CompiledQuery | null | undefined;
}

// Compiling costs 2–18 ms (the introspection query the most), 10–100 runs' worth: a document is compiled
// on its tenth run, so a flood of distinct documents never pays it, and one sent over and over soon does.
const COMPILE_AFTER = 10;

/**
 * Apollo Server with `schema` executed by graphql-jit: each validated document is compiled once to a
 * function that reads exactly its selections (graphql-js interprets the document field by field on every
 * request, which is most of a 100-job page's CPU). Apollo 5 has no executor option; its gateway seam is
 * the supported place for one. Documents graphql-jit does not compile, and requests naming no operation
 * it can run, are executed by graphql-js as before, and so is every document until its tenth run.
 */
export function jitGateway(schema: GraphQLSchema, compileAfter = COMPILE_AFTER): Gateway {
  // By document (Apollo's document store hands out the same object per query), then operation name.
  const seen = new WeakMap<DocumentNode, Map<string, Compiled>>();
  const compiledFor = (document: DocumentNode, operationName: string | undefined): CompiledQuery | null => {
    let byName = seen.get(document);
    if (!byName) seen.set(document, (byName = new Map()));
    const key = operationName ?? '';
    const entry = byName.get(key) ?? { runs: 0, query: undefined };
    byName.set(key, entry);
    if (entry.query === undefined && ++entry.runs >= compileAfter) entry.query = compile(schema, document, operationName);
    return entry.query ?? null;
  };
  const executor: Executor = async ({ document, operation, request, context }) => {
    const operationName = request.operationName ?? undefined;
    const query = operation ? compiledFor(document, operationName) : null;
    if (!query) return execute({ schema, document, operationName, variableValues: request.variables, contextValue: context });
    return withGraphQLErrors(await query.query(undefined, context, request.variables ?? {}));
  };
  return {
    async load() {
      return { executor };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: '' });
      return () => {};
    },
    async stop() {},
  };
}

function compile(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined): CompiledQuery | null {
  try {
    const result = compileQuery(schema, document, operationName, { disablingCapturingStackErrors: true });
    return isCompiledQuery(result) ? result : null;
  } catch {
    // A document the compiler cannot handle is still a valid one: graphql-js executes it.
    return null;
  }
}

/**
 * graphql-jit's errors are its own objects: no `extensions` unless the cause had some (Apollo reads
 * `extensions.code` and would answer an internal error), and no source positions. They are remade as
 * graphql-js makes them, with the same message, locations, path and cause.
 */
function withGraphQLErrors(result: ExecutionResult): ExecutionResult {
  if (!result.errors?.length) return result;
  const errors = result.errors.map((e) => {
    const remade = new GraphQLError(e.message, { path: e.path, originalError: e.originalError });
    (remade as { locations: GraphQLError['locations'] }).locations = e.locations;
    return remade;
  });
  return { ...result, errors };
}
