import type { IncomingMessage } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export interface TracingOptions {
  /** OTLP/HTTP traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces). */
  url: string;
  serviceName: string;
  version: string;
  /** How long finished spans wait before they are sent in a batch (OTEL_BSP_SCHEDULE_DELAY). */
  exportDelayMs: number;
}

/** Spans for requests, GraphQL operations, store calls and scans; exported over OTLP/HTTP. */
export interface Tracing {
  readonly tracer: Tracer;
  /** Start the span of an HTTP request, a child of the caller's `traceparent`; its context follows the request's events. */
  startRequest(request: IncomingMessage): { span: Span; context: Context };
  /** Run `fn` in a span that ends when it settles (an error sets the span's status). */
  inSpan<T>(name: string, attributes: Record<string, string | number | boolean>, fn: (span: Span) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  keys: (carrier: IncomingMessage) => Object.keys(carrier.headers),
  get: (carrier: IncomingMessage, key: string) => carrier.headers[key],
};

/** Tracing to an OTLP endpoint; the gateway makes one only when an endpoint is configured. */
export function createTracing(o: TracingOptions): Tracing {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': o.serviceName, 'service.version': o.version }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: o.url }), scheduledDelayMillis: o.exportDelayMs })],
  });
  // Store calls and scans find their parent through the async context the request runs in.
  const contexts = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contexts);
  propagation.setGlobalPropagator(propagator);
  const tracer = provider.getTracer(o.serviceName, o.version);

  return {
    tracer,
    startRequest(request) {
      const parent = propagator.extract(ROOT_CONTEXT, request, headerGetter);
      const span = tracer.startSpan(`HTTP ${request.method}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method ?? '' } }, parent);
      const ctx = trace.setSpan(parent, span);
      // The body arrives in the request's own events, outside any context entered before them.
      context.bind(ctx, request);
      return { span, context: ctx };
    },
    inSpan(name, attributes, fn) {
      return tracer.startActiveSpan(name, { attributes }, async (span) => {
        try {
          return await fn(span);
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
          throw err;
        } finally {
          span.end();
        }
      });
    },
    async stop() {
      await provider.shutdown();
      context.disable();
      propagation.disable();
    },
  };
}
