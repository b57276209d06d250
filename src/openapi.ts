import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

// Swagger UI's own files only: its scripts and styles are served from the package, the document from
// this server, and no validator badge is fetched (validatorUrl is null). It may not be framed, so a page
// elsewhere cannot dress up its "Authorize" dialog to collect tokens.
const SWAGGER_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "script-src-attr 'none'",
  // The one inline stylesheet Swagger UI renders: the colours of its SVG logo (the test lists any other).
  "style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

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
  await app.register(swaggerUi, { routePrefix: '/swagger', uiConfig: { docExpansion: 'list' }, staticCSP: SWAGGER_CSP });
  app.get('/swagger/v1/swagger.json', { schema: { hide: true } }, async () => app.swagger());
}
