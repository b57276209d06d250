import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { isAppError } from '../errors';
import { SlowConsumerError } from '../events';

// The one mapping from errors to GraphQL, for HTTP and WebSocket alike. Service errors keep their code
// from the closed set (extensions.code) and their field errors (extensions.errors). Errors graphql-js
// raises about the request itself (syntax, validation, variables) are the caller's and are shown.
// Anything else is masked and logged.

/** Apollo's codes for request errors, which it sets itself. */
const REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE', 'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED',
]);

// "Did you mean …?" lists field names; without introspection that leaks the schema.
const hideSuggestions = (message: string) => message.replace(/ Did you mean .*\?$/, '');

export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  logInternal: (err: unknown) => void,
): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? (error.originalError ?? null) : error;
  const where = { ...(formatted.locations ? { locations: formatted.locations } : {}), ...(formatted.path ? { path: formatted.path } : {}) };
  if (isAppError(original)) {
    return {
      message: original.message,
      ...where,
      extensions: { code: original.code, ...(original.fieldErrors ? { errors: original.fieldErrors } : {}) },
    };
  }
  if (original instanceof SlowConsumerError) {
    return { message: `${original.message} Subscribe again to get the current state.`, ...where, extensions: { code: 'UNAVAILABLE' } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REQUEST_CODES.has(code)) {
    return { message: hideSuggestions(formatted.message), ...where, extensions: { code } };
  }
  // A GraphQLError made without an underlying error is about the request: graphql-js's (variable
  // coercion), or one of ours refusing it (a code from the closed set).
  if (error instanceof GraphQLError && !error.originalError) {
    return { message: hideSuggestions(formatted.message), ...where, extensions: { code: typeof code === 'string' ? code : 'BAD_USER_INPUT' } };
  }
  logInternal(original ?? error);
  return { message: 'Internal server error', ...where, extensions: { code: 'INTERNAL' } };
}
