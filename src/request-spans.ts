import type { IncomingMessage } from 'node:http';
import { context, SpanStatusCode, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Tracing } from './tracing';

const started = new WeakMap<IncomingMessage, { span: Span; context: Context }>();

/**
 * Request ids when tracing is on: the request's span is started as Fastify names the request, so the
 * traceId in logs and ProblemDetails is the span's (`00-<trace>-<span>-<flags>`), a caller's trace kept.
 */
export function requestSpans(tracing: Tracing) {
  return {
    traceId(raw: IncomingMessage): string {
      const s = tracing.startRequest(raw);
      started.set(raw, s);
      const { traceId, spanId, traceFlags } = s.span.spanContext();
      return `00-${traceId}-${spanId}-0${traceFlags & 1}`;
    },
  };
}

/** Runs each request in its span's context and ends the span with the route and status. */
export function traceRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const s = started.get(request.raw);
    if (s) context.with(s.context, done);
    else done();
  });
  const end = (request: FastifyRequest, status: number) => {
    const s = started.get(request.raw);
    if (!s) return;
    started.delete(request.raw);
    const route = request.routeOptions.url ?? 'unmatched';
    s.span.updateName(`${request.method} ${route}`);
    s.span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
    if (status >= 500) s.span.setStatus({ code: SpanStatusCode.ERROR });
    s.span.end();
  };
  app.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  // The caller hung up: the span ends with the status nginx gives such requests.
  app.addHook('onRequestAbort', (request, done) => {
    end(request, 499);
    done();
  });
}
