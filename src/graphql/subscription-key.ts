import { getOperationAST, print, visit, type DocumentNode } from 'graphql';

/**
 * What the result of a subscription for one event depends on: the document without its comments and
 * layout (it is printed from the parsed AST), without the `jobIds` and `hostIds` filters (which only chooses the events
 * a subscriber gets, not what is sent for one), the operation name, and the values of the variables the
 * rest still uses. Subscriptions with the same key share one execution per event, so a caller cannot
 * multiply the work per event with comments, whitespace or filters.
 */
// Arguments that only choose which events a subscriber gets (jobs, hosts), never what is sent for one.
const FILTERS = new Set(['jobIds', 'hostIds']);

export function subscriptionKey(document: DocumentNode, operationName: string | null | undefined, variables: Readonly<Record<string, unknown>> | null | undefined): string {
  const stripped = visit(document, {
    Argument: (node) => (FILTERS.has(node.name.value) ? null : undefined),
    VariableDefinition: () => null,
  });
  const used = new Set<string>();
  visit(stripped, { Variable: (node) => void used.add(node.name.value) });
  const values = [...used].sort().map((name) => [name, variables?.[name] ?? null]);
  const operation = getOperationAST(document, operationName);
  return `${print(stripped)}\u0000${operation?.name?.value ?? ''}\u0000${JSON.stringify(values)}`;
}
