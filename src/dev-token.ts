import type { FastifyRequest } from 'fastify';

// Who may be handed the development Admin token. A loopback peer alone proves little: a browser page
// whose DNS name was rebound to 127.0.0.1 reaches the port from loopback, and so does every request a
// reverse proxy on this machine passes on. Both show themselves in the headers the browser or proxy
// sends, so the token goes only to a request that, from end to end, names this machine.

const LOOPBACK_PEER = /^(?:127\.|::ffff:127\.)|^::1$/;
// localhost, any 127/8 address or [::1], with any port. Nothing else: no *.localhost, no trailing dot.
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;
// Headers by which proxies announce themselves; a proxy that rewrites Host to loopback and adds none of
// these cannot be told from a local browser, which is why the token exists only in development.
const FORWARDING = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'];

/** Whether the request comes from a browser or tool on this machine that asked for this machine by name. */
export function isLocalVisitor(request: FastifyRequest): boolean {
  const { headers } = request;
  if (!LOOPBACK_PEER.test(request.socket.remoteAddress ?? '')) return false;
  if (!LOOPBACK_HOST.test(headers.host ?? '')) return false;
  if (FORWARDING.some((name) => headers[name] !== undefined)) return false;
  const origin = headers.origin;
  return origin === undefined || isLoopbackOrigin(origin);
}

function isLoopbackOrigin(origin: string): boolean {
  // "null" (sandboxed frames, file: pages) is no origin at all, so it does not parse and is refused.
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOST.test(url.host);
}

/** The development token for a local visitor; null for everyone else and whenever there is none. */
export function devTokenFor(request: FastifyRequest, devToken: string | null): string | null {
  return devToken && isLocalVisitor(request) ? devToken : null;
}
