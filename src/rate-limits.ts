import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerToken, type TokenVerifier } from './auth';

export interface RateLimitOptions {
  verifier: TokenVerifier;
  /** Requests one client address may make per window; 0 turns the limit off. */
  perAddress: number;
  /** Requests one token subject may make per window, from any address; 0 turns the limit off. */
  perSubject: number;
  windowMs: number;
  /** Told each time a limit refuses a request. */
  onLimited?: (limit: 'address' | 'subject') => void;
}

/** The error a refused request carries to the error handler (REST answers ProblemDetails, GraphQL an error body). */
export class RateLimited extends Error {
  override readonly name = 'RateLimited';
  readonly statusCode = 429;
  readonly code = 'RATE_LIMITED';
}

const exempt = (request: FastifyRequest) => request.url.startsWith('/health/');

/**
 * Request rate limits per client address and per token subject (429 with Retry-After), with
 * @fastify/rate-limit's in-memory store: each instance counts its own requests, so behind a balancer
 * spreading load over N instances a client gets up to N times the limit. Health probes are never limited.
 */
export async function registerRateLimits(app: FastifyInstance, o: RateLimitOptions): Promise<void> {
  if (o.perAddress === 0 && o.perSubject === 0) return;
  await app.register(rateLimit, { global: false });
  // The token's subject, when it carries a valid one (verification is cached by token; once per request here).
  const subjects = new WeakMap<FastifyRequest, Promise<string | null>>();
  const subjectOf = (request: FastifyRequest): Promise<string | null> => {
    let subject = subjects.get(request);
    if (!subject) {
      const token = bearerToken(request.headers.authorization);
      subject = token ? o.verifier.verify(token).then((p) => p.subject, () => null) : Promise.resolve(null);
      subjects.set(request, subject);
    }
    return subject;
  };
  const refusal = (limit: 'address' | 'subject') => (_request: FastifyRequest, context: { after: string }) =>
    new RateLimited(`Too many requests from this ${limit === 'address' ? 'client address' : 'token subject'}; retry in ${context.after}.`);
  if (o.perAddress > 0) {
    app.addHook('onRequest', app.rateLimit({
      max: o.perAddress,
      timeWindow: o.windowMs,
      allowList: (request) => exempt(request),
      errorResponseBuilder: refusal('address'),
      onExceeded: () => o.onLimited?.('address'),
    }));
  }
  if (o.perSubject > 0) {
    app.addHook('onRequest', app.rateLimit({
      max: o.perSubject,
      timeWindow: o.windowMs,
      keyGenerator: async (request) => `subject:${(await subjectOf(request)) ?? ''}`,
      allowList: async (request) => exempt(request) || (await subjectOf(request)) === null,
      errorResponseBuilder: refusal('subject'),
      onExceeded: () => o.onLimited?.('subject'),
    }));
  }
}
