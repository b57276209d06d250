import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { devTokenFor } from './dev-token';

const PUBLIC = join(__dirname, '..', 'public');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

interface Asset {
  body: Buffer;
  type: string;
}

/** The graphql-ws browser client: its ES module and the one chunk it imports, from the installed package. */
function graphqlWsAssets(): Map<string, Asset> {
  const dist = dirname(require.resolve('graphql-ws'));
  const files = readdirSync(dist).filter((f) => f === 'client.js' || /^common-[\w-]+\.js$/.test(f));
  return new Map(files.map((f) => [f, { body: readFileSync(join(dist, f)), type: TYPES['.js']! }]));
}

/** uqr (QR codes for the authenticator enrolment): its one dependency-free ES module, from the installed package. */
function uqrAsset(): Asset {
  return { body: readFileSync(join(dirname(require.resolve('uqr')), 'index.mjs')), type: TYPES['.js']! };
}

/**
 * The dashboard at `/`: static files read once at start. In development (an ephemeral key) a page
 * loaded from this machine gets the Admin token filled in; nobody else ever does.
 */
export async function dashboardRoutes(app: FastifyInstance, { devToken }: { devToken: string | null }) {
  const page = (file: string): Asset => ({ body: readFileSync(join(PUBLIC, file)), type: TYPES[file.slice(file.lastIndexOf('.'))]! });
  // Every page, module and stylesheet directly in public/ (the explorer's folder is served elsewhere).
  const files = readdirSync(PUBLIC, { withFileTypes: true }).filter((f) => f.isFile() && TYPES[f.name.slice(f.name.lastIndexOf('.'))]);
  const pages = new Map(files.map((f) => [`/${f.name}`, page(f.name)]));
  pages.set('/', pages.get('/index.html')!);
  const vendor = graphqlWsAssets();
  const hide = { schema: { hide: true } };

  for (const [url, asset] of pages) {
    app.get(url, hide, async (_request, reply) =>
      reply.type(asset.type).header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').send(asset.body),
    );
  }
  app.get('/assets/graphql-ws/:file', hide, async (request, reply) => {
    const asset = vendor.get((request.params as { file: string }).file);
    if (!asset) return reply.callNotFound();
    return reply.type(asset.type).header('cache-control', 'public, max-age=86400').send(asset.body);
  });
  const qr = uqrAsset();
  app.get('/assets/uqr/index.mjs', hide, async (_request, reply) =>
    reply.type(qr.type).header('cache-control', 'public, max-age=86400').header('x-content-type-options', 'nosniff').send(qr.body),
  );
  // no-store: the answer holds a credential for some visitors and not others, so no cache may keep one.
  app.get('/dashboard/config.json', hide, async (request, reply) =>
    reply.header('cache-control', 'no-store').send({ devToken: devTokenFor(request, devToken) }),
  );
}
