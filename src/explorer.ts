import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

// The GraphQL explorer at /explorer, for development only: GraphiQL served by the gateway itself, so it
// works on networks with no internet (Apollo Sandbox, the landing page it replaces, loads from a CDN).
//
// GraphiQL 4's UMD build and React 18's UMD builds are served as published, straight from node_modules:
// no bundler and no build step, and package-lock.json pins what runs. GraphiQL 5 ships no UMD build and
// edits with Monaco, which needs a bundler, web workers and injected styles; version 4 (CodeMirror 5)
// runs under the strict CSP below without any of that.

const EXPLORER = join(__dirname, '..', 'public', 'explorer');

/** Nothing inline and nothing from elsewhere; subscriptions go over a WebSocket to this same origin. */
export const EXPLORER_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

/** The published files the page loads, by the name it asks for them under /explorer/vendor/. */
function vendorAssets(): Map<string, Asset> {
  const files: [string, string, string][] = [
    ['react.production.min.js', join(packageDir('react'), 'umd', 'react.production.min.js'), JS],
    ['react-dom.production.min.js', join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'), JS],
    ['graphiql.min.js', join(packageDir('graphiql'), 'dist', 'index.umd.js'), JS],
    ['graphiql.min.css', join(packageDir('graphiql'), 'dist', 'style.css'), CSS],
  ];
  return new Map(files.map(([name, path, type]) => [name, { body: readFileSync(path), type }]));
}

/** The explorer's page, its module and stylesheet, and the vendor files; register only in development. */
export async function explorerRoutes(app: FastifyInstance) {
  const own = (file: string, type: string): Asset => ({ body: readFileSync(join(EXPLORER, file)), type });
  const pages = new Map([
    ['/explorer', own('index.html', 'text/html; charset=utf-8')],
    ['/explorer/explorer.js', own('explorer.js', JS)],
    ['/explorer/explorer.css', own('explorer.css', CSS)],
  ]);
  const vendor = vendorAssets();
  const hide = { schema: { hide: true } };

  const send = (reply: FastifyReply, asset: Asset) =>
    reply.type(asset.type).header('content-security-policy', EXPLORER_CSP).header('x-content-type-options', 'nosniff').send(asset.body);
  for (const [url, asset] of pages) app.get(url, hide, async (_request, reply) => send(reply, asset));
  app.get('/explorer/vendor/:file', hide, async (request, reply) => {
    const asset = vendor.get((request.params as { file: string }).file);
    if (!asset) return reply.callNotFound();
    return send(reply.header('cache-control', 'public, max-age=86400'), asset);
  });
}
