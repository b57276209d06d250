import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { BackupService } from '../backup-service';

/**
 * `GET /api/v1/backup`: a backup file of the embedded store, taken at one consistent point while the
 * gateway runs (what `npm run backup -- --gateway URL` fetches). Admin only.
 */
export async function backupRoutes(app: FastifyInstance, { backups }: { backups: BackupService }) {
  app.get('', {
    schema: { summary: 'A consistent backup of the embedded store (Auth roles: Admin); 409 on PostgreSQL, which pg_dump backs up' },
    handler: async (request: FastifyRequest, reply) => {
      const file = await backups.backup(request.principal!);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="scan-gateway-${stamp}.backup"`)
        .send(file);
    },
  });
}
