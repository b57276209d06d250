import type { FastifyInstance } from 'fastify';
import type { HostImportService } from '../host-import-service';
import { caller } from './routes';
import { problemDetails } from './schemas';

// A CSV file of 10,000 hosts with every column filled is about 2 MiB; JSON quoting adds a little.
const CSV_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

const problem = { type: 'object', properties: { line: { type: 'integer' }, field: { type: 'string' }, message: { type: 'string' } } } as const;
const report = {
  type: 'object',
  properties: {
    rows: { type: 'integer' },
    problems: { type: 'array', items: problem },
    badRows: { type: 'integer' },
    imported: { type: 'boolean' },
    jobs: {
      type: 'array',
      items: { type: 'object', properties: { id: { type: 'string' }, batchId: { type: 'string' }, hosts: { type: 'integer' }, firstLine: { type: 'integer' }, lastLine: { type: 'integer' } } },
    },
  },
} as const;

/** `POST /api/v1/HostScanJob/ImportCSV`: the dashboard's CSV import, the file as text in JSON. */
export async function importRoutes(app: FastifyInstance, { imports }: { imports: HostImportService }) {
  app.post('/ImportCSV', {
    bodyLimit: CSV_BODY_LIMIT_BYTES,
    schema: {
      summary: 'Check a CSV file of HostScanJobRequests and import it (Auth roles: Admin): nothing imported while a row is bad, unless importGood',
      body: { type: 'object', properties: { csv: { type: 'string' }, importGood: { type: 'boolean' }, checkOnly: { type: 'boolean' } }, required: ['csv'] },
      response: { 200: report, 400: problemDetails, 401: problemDetails, 403: problemDetails },
    },
    handler: async (request) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      return imports.importCsv(caller(request), { csv: body.csv, importGood: body.importGood, checkOnly: body.checkOnly });
    },
  });
}
