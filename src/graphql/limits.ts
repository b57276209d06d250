import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type ASTVisitor,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** Limits every GraphQL operation meets, over HTTP and WebSocket alike. */
export interface GraphQLLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
  /** Most `ofType` fields on one path of a selection (the standard introspection query has 9). */
  maxIntrospectionDepth: number;
  introspection: boolean;
  /** Say the limit in the error (development); production only says a limit was hit. */
  exposeLimits: boolean;
}

/** Validation rules added to graphql-js's own (GraphQL Armor's depth, alias and directive rules); cost is checked with the variables, see cost.ts. */
export function limitRules(limits: GraphQLLimits): ValidationRule[] {
  // Armor throws out of the validation visitor by default; reporting instead lets graphql-js collect
  // the error like any other validation failure (400 GRAPHQL_VALIDATION_FAILED, nothing executed).
  const expose = {
    exposeLimits: limits.exposeLimits,
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
  };
  return [
    maxDepthRule({ n: limits.maxDepth, ...expose }),
    maxAliasesRule({ n: limits.maxAliases, ...expose }),
    maxDirectivesRule({ n: limits.maxDirectives, ...expose }),
    maxOfTypeRule(limits.maxIntrospectionDepth, limits.exposeLimits),
    ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ] as ValidationRule[];
}

/**
 * Refuses selections with more than `limit` `ofType` fields on one path. GraphQL Armor's depth rule skips
 * introspection fields, and graphql-js's MaxIntrospectionDepthRule counts only the list fields (`fields`,
 * `interfaces`, …), so `type { ofType { ofType { … } } }` nested without end passed both, each level one
 * more resolver call per type in the answer. Any field named `ofType` counts (only `__Type` has one).
 */
export function maxOfTypeRule(limit: number, exposeLimits: boolean): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    // Deepest `ofType` path inside each fragment, so a fragment spread many times is walked once.
    const inFragment = new Map<string, number>();
    const depth = (set: SelectionSetNode | undefined, walking: Set<string>): number => {
      let deepest = 0;
      for (const node of set?.selections ?? []) {
        let d: number;
        if (node.kind === Kind.FIELD) d = (node.name.value === 'ofType' ? 1 : 0) + depth(node.selectionSet, walking);
        else if (node.kind === Kind.INLINE_FRAGMENT) d = depth(node.selectionSet, walking);
        else d = fragmentDepth(node.name.value, walking);
        deepest = Math.max(deepest, d);
      }
      return deepest;
    };
    const fragmentDepth = (name: string, walking: Set<string>): number => {
      const known = inFragment.get(name);
      if (known !== undefined) return known;
      // A cycle is NoFragmentCyclesRule's to report; here it only must not recurse for ever.
      if (walking.has(name)) return 0;
      walking.add(name);
      const d = depth(context.getFragment(name)?.selectionSet, walking);
      walking.delete(name);
      inFragment.set(name, d);
      return d;
    };
    return {
      OperationDefinition(operation) {
        const found = depth(operation.selectionSet, new Set());
        if (found <= limit) return;
        const message = exposeLimits
          ? `Introspection nested ${found} ofType levels deep; the limit is ${limit} (GRAPHQL_MAX_INTROSPECTION_DEPTH).`
          : 'The introspection query is nested too deeply.';
        context.reportError(new GraphQLError(message, { nodes: [operation] }));
      },
    };
  };
}
