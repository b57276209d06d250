import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditService } from '../audit-service';

/**
 * `GET /api/v1/audit/export?subject=&action=&since=&until=`: the audit trail as NDJSON (one record per
 * line, newest first), streamed in pages so a long trail never sits in memory. Admin only.
 */
export async function auditRoutes(app: FastifyInstance, { audit }: { audit: AuditService }) {
  app.get('/export', {
    schema: {
      summary: 'The audit trail as NDJSON, newest first (Auth roles: Admin)',
      querystring: { type: 'object', properties: { subject: { type: 'string' }, action: { type: 'string' }, since: { type: 'string', format: 'date-time' }, until: { type: 'string', format: 'date-time' } } },
    },
    handler: async (request: FastifyRequest, reply) => {
      const pages = audit.export(request.principal!, request.query as Record<string, unknown>);
      // The first page is read before answering, so a refused caller or a bad filter is a ProblemDetails.
      const first = await pages.next();
      reply.type('application/x-ndjson; charset=utf-8');
      return reply.send(
        Readable.from(async function* () {
          if (first.done) return;
          for (let page = first.value; ; ) {
            yield page.map((r) => JSON.stringify(r)).join('\n') + '\n';
            const next = await pages.next();
            if (next.done) return;
            page = next.value;
          }
        }()),
      );
    },
  });
}
