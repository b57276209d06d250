import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ERROR_CODES, isAppError, type ErrorCode } from '../errors';
import { SlowConsumerError } from '../events';
import { withoutEchoedValues } from './echo-free';

// The one mapping from errors to GraphQL, for HTTP and WebSocket alike. Service errors keep their code
// from the closed set (extensions.code) and their field errors (extensions.errors). Errors graphql-js
// raises about the request itself (syntax, validation, variables) are the caller's and are shown.
// Anything else is masked and logged.

/** Codes for errors about the request itself, which Apollo, graphql-js or our limits raise. */
export const REQUEST_CODES = [
  'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE', 'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'RATE_LIMITED',
] as const;
export type RequestCode = (typeof REQUEST_CODES)[number];
const isRequestCode = (code: unknown): code is RequestCode => (REQUEST_CODES as readonly unknown[]).includes(code);

/** An error about a request, with a code from the request codes or the service's closed set. */
export const requestError = (message: string, code: RequestCode | ErrorCode): GraphQLError => new GraphQLError(message, { extensions: { code } });

/**
 * Without introspection (production) a message must not describe the schema: "Did you mean …?" lists
 * field names, and graphql-js's validation messages quote the fields and types a caller probed for.
 */
function schemaSafe(raw: string, hideSchema: boolean): string {
  const message = withoutEchoedValues(raw);
  if (!hideSchema) return message;
  const withoutSuggestions = message.replace(/ Did you mean .*\?$/, '');
  return /"[^"]*"/.test(withoutSuggestions) ? 'The operation does not match the schema.' : withoutSuggestions;
}

const isServiceCode = (code: unknown): boolean => (ERROR_CODES as readonly unknown[]).includes(code);

export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  logInternal: (err: unknown) => void,
  hideSchema = false,
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
  if (isRequestCode(code)) {
    return { message: schemaSafe(formatted.message, hideSchema), ...where, extensions: { code } };
  }
  // A GraphQLError made without an underlying error is about the request: graphql-js's (variable
  // coercion, with no code), or Apollo's about the request's envelope (persisted queries, with
  // INTERNAL_SERVER_ERROR although it answers 400), or a service code from the closed set.
  if (error instanceof GraphQLError && !error.originalError) {
    const known = code === undefined ? 'BAD_USER_INPUT' : code === 'INTERNAL_SERVER_ERROR' ? 'BAD_REQUEST' : code;
    return { message: schemaSafe(formatted.message, hideSchema), ...where, extensions: { code: isRequestCode(known) || isServiceCode(known) ? known : 'BAD_REQUEST' } };
  }
  logInternal(original ?? error);
  return { message: 'Internal server error', ...where, extensions: { code: 'INTERNAL' } };
}
