import { GraphQLError, getNamedType, isLeafType, type DocumentNode, type GraphQLSchema } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { CostCache } from './cost-cache';
import type { RequestCode } from './errors';

/**
 * The cost of an operation with the values it will run with: a leaf costs 1, an object 2 plus 1.5× its
 * selection, and a list field with `first` costs that many times its item (a list without `first`, its
 * declared `listSize` times). Variables count with the
 * values sent (a `first: $n` costs what `first: 1000` costs) and absent arguments with their defaults,
 * so neither a literal nor a variable can ask for more than the limit. Introspection costs nothing here;
 * the depth limit bounds it.
 */
// Lists without `first` declare the items they are assumed to hold (`@Extensions({ listSize })`).
const listSize = (extensions: Readonly<Record<string, unknown>> | null | undefined): number =>
  typeof extensions?.listSize === 'number' ? extensions.listSize : 1;

// The arguments whose values the estimator reads (the cost cache keys on the variables that reach them).
const VALUE_ARGUMENTS: ReadonlySet<string> = new Set(['first']);

const estimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (field.name.startsWith('__')) return 0;
  const own = isLeafType(getNamedType(field.type)) ? 1 : 2 + 1.5 * childComplexity;
  const first = typeof args.first === 'number' && args.first > 1 ? args.first : listSize(field.extensions);
  return own * first;
};

const caches = new WeakMap<GraphQLSchema, CostCache>();

export interface CostCheck {
  maxCost: number;
  /** Say the limit and the cost in the error (development). */
  exposeLimits: boolean;
}

/**
 * Throws GRAPHQL_VALIDATION_FAILED (HTTP 400) when the operation costs more than `maxCost`, or
 * BAD_USER_INPUT when its variables do not fit their definitions. Run after validation, before execution.
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  limits: CostCheck,
): void {
  let cache = caches.get(schema);
  if (!cache) caches.set(schema, (cache = new CostCache(VALUE_ARGUMENTS)));
  const name = operationName || undefined;
  const values = variables ?? {};
  let cost: number;
  try {
    cost = cache.costOf(schema, document, name, values, () =>
      getComplexity({ estimators: [estimator], schema, query: document, variables: values, ...(name ? { operationName: name } : {}) }),
    );
  } catch (err) {
    throw new GraphQLError(err instanceof Error ? err.message : 'The variables do not fit the operation.', {
      extensions: { code: 'BAD_USER_INPUT' satisfies RequestCode, http: { status: 400 } },
    });
  }
  if (cost > limits.maxCost) {
    const message = limits.exposeLimits ? `Query cost ${Math.ceil(cost)} exceeds the limit of ${limits.maxCost}.` : 'The query is too expensive.';
    throw new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' satisfies RequestCode, http: { status: 400 } } });
  }
}
