import { getVariableValues, Kind, visit, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, type ValueNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * Remembers an operation's cost per document and variable shape, so the cost analysis (a TypeInfo walk
 * of the whole document, about a sixth of a small query's CPU) runs once per shape, not once per request.
 *
 * Why a shape suffices: the analysis reads variables through graphql-js's argument and directive
 * coercion, which for a variable only asks whether it is absent, null or set and passes its coerced value
 * on unchanged; and the estimator reads only the arguments in `valueArguments` (and skip/include read
 * their `if`). So the cost is the same for every request whose variables coerce without errors and agree
 * on absent/null/set, and on the values of variables that reach those arguments or any directive.
 * Variables are still coerced on every request (their errors are the caller's to see); anything unusual
 * (coercion errors, an operation name and an anonymous operation) is left to the analysis itself.
 */
export class CostCache {
  private readonly valueVariables = new WeakMap<DocumentNode, ReadonlySet<string>>();
  // Per document, by variable shape. A document's entries go when Apollo's document store drops it.
  private readonly costs = new WeakMap<DocumentNode, LRUCache<string, number>>();

  constructor(
    private readonly valueArguments: ReadonlySet<string>,
    private readonly shapesPerDocument = 64,
  ) {}

  /** The cost `compute` gives for this request, computed once per document and variable shape. */
  costOf(
    schema: GraphQLSchema,
    document: DocumentNode,
    operationName: string | undefined,
    variables: Record<string, unknown>,
    compute: () => number,
  ): number {
    const shape = this.shapeOf(schema, document, operationName, variables);
    if (shape === null) return compute();
    let costs = this.costs.get(document);
    const known = costs?.get(shape);
    if (known !== undefined) return known;
    const cost = compute();
    if (!costs) this.costs.set(document, (costs = new LRUCache({ max: this.shapesPerDocument })));
    costs.set(shape, cost);
    return cost;
  }

  /** The operation name and, per operation analysed, each variable's shape; null when not cacheable. */
  private shapeOf(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown>): string | null {
    const values = this.valueVariablesOf(document);
    let shape = operationName === undefined ? '' : `${operationName}\u0000`;
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      const operation: OperationDefinitionNode = definition;
      if (operationName !== undefined) {
        if (operation.name === undefined) return null;
        if (operation.name.value !== operationName) continue;
      }
      const definitions = operation.variableDefinitions ?? [];
      if (definitions.length === 0) continue;
      const coerced = getVariableValues(schema, definitions, variables);
      if (coerced.errors) return null;
      for (const { variable } of definitions) {
        const name = variable.name.value;
        const value = coerced.coerced[name];
        if (!Object.hasOwn(coerced.coerced, name)) shape += 'a';
        else if (value == null) shape += 'n';
        else if (!values.has(name)) shape += 's';
        else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string') shape += `=${JSON.stringify(value)}\u0000`;
        // A value the key could not tell apart from another (an object, a custom scalar's): not cached.
        else return null;
      }
      shape += ';';
    }
    return shape;
  }

  /** Variables used inside the value-read arguments or any directive, anywhere in the document. */
  private valueVariablesOf(document: DocumentNode): ReadonlySet<string> {
    let names = this.valueVariables.get(document);
    if (names) return names;
    const found = new Set<string>();
    const collect = (value: ValueNode) => visit(value, { Variable: (node) => void found.add(node.name.value) });
    visit(document, {
      Argument: (node) => void (this.valueArguments.has(node.name.value) && collect(node.value)),
      Directive: (node) => {
        for (const argument of node.arguments ?? []) collect(argument.value);
        return false;
      },
    });
    this.valueVariables.set(document, (names = found));
    return names;
  }
}
