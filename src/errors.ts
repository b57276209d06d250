/**
 * The closed set of failures the service reports. Edges map each code exactly once:
 * REST to a status and ProblemDetails, GraphQL to `extensions.code`, WebSocket connect to a close code.
 * Nothing here knows about HTTP or GraphQL.
 */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Input problems keyed by the path of the offending value (`$`, `$[3]`, `hostId`), as ASP.NET does. */
export type FieldErrors = Record<string, string[]>;

/** An expected failure with a message that is safe to show to the caller. */
export class AppError extends Error {
  override readonly name = 'AppError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fieldErrors?: FieldErrors,
  ) {
    super(message);
  }
}

export const unauthenticated = (message = 'A valid bearer token is required.') =>
  new AppError('UNAUTHENTICATED', message);

export const forbidden = (message = 'The token does not carry a role allowed to do this.') =>
  new AppError('FORBIDDEN', message);

export const notFound = (message: string) => new AppError('NOT_FOUND', message);

export const unavailable = (message = 'The service is temporarily unavailable; try again shortly.') =>
  new AppError('UNAVAILABLE', message);

/** A BAD_INPUT error; `message` summarises, `fieldErrors` says what is wrong where. */
export function badInput(fieldErrors: FieldErrors, message?: string): AppError {
  const first = Object.entries(fieldErrors)[0];
  const summary = message ?? (first ? `${first[0]}: ${first[1][0]}` : 'The input is not valid.');
  return new AppError('BAD_INPUT', summary, fieldErrors);
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;
