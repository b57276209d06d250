import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { challenge } from '../auth';
import type { RequestCode } from '../graphql/errors';
import { RateLimited } from '../rate-limits';
import { isAppError, type AppError, type ErrorCode, type FieldErrors } from '../errors';

// The one mapping from errors to ASP.NET Core ProblemDetails (the links and titles of .NET 6, which the
// vendor's server runs on). Unknown errors are masked; their detail goes to the log only.

interface ProblemKind {
  status: number;
  type: string;
  title: string;
}

const RFC7231 = 'https://tools.ietf.org/html/rfc7231#section-';
const KINDS: Record<number, ProblemKind> = {
  400: { status: 400, type: `${RFC7231}6.5.1`, title: 'Bad Request' },
  401: { status: 401, type: 'https://tools.ietf.org/html/rfc7235#section-3.1', title: 'Unauthorized' },
  403: { status: 403, type: `${RFC7231}6.5.3`, title: 'Forbidden' },
  404: { status: 404, type: `${RFC7231}6.5.4`, title: 'Not Found' },
  405: { status: 405, type: `${RFC7231}6.5.5`, title: 'Method Not Allowed' },
  409: { status: 409, type: `${RFC7231}6.5.8`, title: 'Conflict' },
  413: { status: 413, type: `${RFC7231}6.5.11`, title: 'Payload Too Large' },
  414: { status: 414, type: `${RFC7231}6.5.12`, title: 'URI Too Long' },
  415: { status: 415, type: `${RFC7231}6.5.13`, title: 'Unsupported Media Type' },
  429: { status: 429, type: 'https://tools.ietf.org/html/rfc6585#section-4', title: 'Too Many Requests' },
  500: { status: 500, type: `${RFC7231}6.6.1`, title: 'An error occurred while processing your request.' },
  503: { status: 503, type: `${RFC7231}6.6.4`, title: 'Service Unavailable' },
};

const STATUS_OF: Record<ErrorCode, number> = {
  BAD_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export const VALIDATION_TITLE = 'One or more validation errors occurred.';
export const RETRY_AFTER_S = '5';

/** Send a ProblemDetails body with `status`; `fieldErrors` makes it a validation problem. */
export function sendProblem(
  reply: FastifyReply,
  status: number,
  detail: string,
  fieldErrors?: FieldErrors,
): FastifyReply {
  const kind = KINDS[status] ?? { status, type: `${RFC7231}6.5.1`, title: 'Error' };
  const body = {
    type: kind.type,
    title: fieldErrors ? VALIDATION_TITLE : kind.title,
    status,
    detail,
    traceId: String(reply.request.id),
    ...(fieldErrors ? { errors: fieldErrors } : {}),
  };
  return reply.code(status).type('application/problem+json; charset=utf-8').serializer(JSON.stringify).send(body);
}

export function sendAppError(reply: FastifyReply, err: AppError): FastifyReply {
  const status = STATUS_OF[err.code];
  if (err.code === 'UNAUTHENTICATED') reply.header('www-authenticate', challenge(err.message, !!reply.request.headers.authorization));
  if (err.code === 'UNAVAILABLE') reply.header('retry-after', RETRY_AFTER_S);
  return sendProblem(reply, status, err.message, err.fieldErrors);
}

/** Errors Fastify raises before routing (a URL it cannot decode, a path parameter over its length limit). */
export function handleFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendProblem(reply, 414, 'A path segment is longer than this API accepts.');
  return sendProblem(reply, 400, 'The request URL is not valid.');
}

/**
 * Fastify's error handler: AppErrors by code, framework errors by their status, the rest masked. Errors
 * raised before GraphQL runs on its route (a body that is not JSON or holds a prototype key, too large, of
 * another type; a rate limit) get a GraphQL error body there: GraphQL clients read `errors` as a list, and
 * a ProblemDetails' `errors` is an object.
 */
export function handleError(err: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply) {
  const toGraphQL = request.url.startsWith('/graphql');
  const send = (status: number, message: string, fieldErrors?: FieldErrors) =>
    toGraphQL ? sendGraphQLError(reply, status, message, status === 429 ? 'RATE_LIMITED' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST', fieldErrors)
      : sendProblem(reply, status, message, fieldErrors);
  if (err instanceof RateLimited) return send(429, err.message);
  if (isAppError(err)) {
    if (err.code === 'INTERNAL') request.log.error({ err }, 'internal error');
    return sendAppError(reply, err);
  }
  const fastifyErr = err as FastifyError & { fieldErrors?: FieldErrors };
  const status = fastifyErr.statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err }, 'unhandled error');
    return send(500, 'The server could not complete the request; the traceId identifies it in the logs.');
  }
  switch (fastifyErr.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return send(413, `The request body exceeds the limit of ${request.routeOptions.bodyLimit ?? 'the configured'} bytes.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return send(415, `Content-Type '${request.headers['content-type'] ?? '(none)'}' is not supported; send application/json.`.slice(0, 200));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return send(400, 'A non-empty request body is required.', { $: ['A non-empty request body is required.'] });
  }
  if (fastifyErr.fieldErrors) return send(400, err.message, fastifyErr.fieldErrors);
  return send(status, status === 400 ? 'The request is not valid.' : err.message);
}

/** A GraphQL error body, shaped as the GraphQL edge shapes its own (graphql/errors.ts). */
function sendGraphQLError(reply: FastifyReply, status: number, message: string, code: RequestCode | ErrorCode, fieldErrors?: FieldErrors): FastifyReply {
  const extensions = { code, ...(fieldErrors ? { errors: fieldErrors } : {}) };
  return reply.code(status).type('application/json; charset=utf-8').send({ errors: [{ message, extensions }] });
}
