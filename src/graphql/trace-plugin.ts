import type { ApolloServerPlugin } from '@apollo/server';
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import type { Tracing } from '../tracing';
import type { GraphQLContext } from './context';

/** A span per GraphQL operation over HTTP (`graphql.<type> <name>`), a child of the request's span. */
export function tracePlugin(tracing: Tracing): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      let span: Span | null = null;
      return {
        async didResolveOperation({ operation, request }) {
          const type = operation?.operation ?? 'unknown';
          const name = request.operationName ?? operation?.name?.value ?? '';
          span = tracing.tracer.startSpan(`graphql.${type}${name ? ` ${name}` : ''}`, {
            attributes: { 'graphql.operation.type': type, 'graphql.operation.name': name },
          });
        },
        async willSendResponse({ errors }) {
          if (!span) return;
          if (errors?.length) span.setStatus({ code: SpanStatusCode.ERROR, message: errors[0]!.extensions?.code === undefined ? 'error' : String(errors[0]!.extensions.code) });
          span.end();
        },
      };
    },
  };
}
