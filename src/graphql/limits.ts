import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { NoSchemaIntrospectionCustomRule, type GraphQLError, type ValidationContext, type ValidationRule } from 'graphql';

/** Limits every GraphQL operation meets, over HTTP and WebSocket alike. */
export interface GraphQLLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
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
    ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ] as ValidationRule[];
}
