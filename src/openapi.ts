import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI document, generated from the route schemas of the REST routes and the health probes, at the
 * vendor's path `/swagger/v1/swagger.json`, with Swagger UI at `/swagger`. Register before the routes.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Scan gateway: HostScanJob API',
        version,
        description:
          'Netwrix Privilege Secure compatible HostScanJob routes. Enums are integers (ActionStatus, ActionFailureReason); errors are application/problem+json.',
      },
      components: { securitySchemes: { Bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    transform: ({ schema, url }) => {
      const documented = url.startsWith('/api/') || url.startsWith('/health/');
      const security = url.startsWith('/api/') ? { security: [{ Bearer: [] }] } : {};
      return { schema: documented ? { ...schema, ...security } : { ...schema, hide: true }, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/swagger', uiConfig: { docExpansion: 'list' } });
  app.get('/swagger/v1/swagger.json', { schema: { hide: true } }, async () => app.swagger());
}
