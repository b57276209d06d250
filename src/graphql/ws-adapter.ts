import { handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';
import { CloseCode } from './close-codes';

/** What graphql-ws hooks see as `ctx.extra`: the socket and the client's address (not the whole upgrade request, to keep idle sockets small). */
export interface SocketExtra {
  readonly socket: WebSocket;
  readonly ip: string | null;
}

/**
 * graphql-ws's protocol core on a `ws` server. It replaces graphql-ws's `use/ws` starter so that
 * socket-level errors (a frame over the size limit, bad UTF-8) are logged through our logger and end
 * with the close code `ws` chose, not console output and 4500; and so that one timer pings all sockets
 * instead of one timer per socket. A peer that does not answer a ping before the next is dropped;
 * dispose closes every client with 1001.
 */
export function serveGraphQLSockets<P extends Record<string, unknown> | undefined>(
  options: ServerOptions<P, SocketExtra>,
  wss: WebSocketServer,
  logger: Logger,
  limits: { maxMessagesPerSecond: number; onLimited?: () => void },
  keepAliveMs = 12_000,
): { dispose(): Promise<void> } {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;

  // One timer pings every socket; a socket that has not answered the previous ping is dropped.
  const alive = new WeakSet<WebSocket>();
  const ping = setInterval(() => {
    for (const socket of wss.clients) {
      if (socket.readyState !== socket.OPEN) continue;
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, keepAliveMs);
  ping.unref();

  wss.on('connection', (socket, request) => {
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
    socket.on('error', (err) => logger.debug({ err }, 'websocket error; ws closes the socket with its own code'));
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            // A failed send means the socket is going away; its close handler cleans up.
            socket.send(data, () => resolve());
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) => {
          // A token bucket per socket: bursts up to a second's worth, then the steady rate.
          let tokens = limits.maxMessagesPerSecond;
          let refilled = performance.now();
          let refused = false;
          socket.on('message', async (data) => {
            // Messages already on the wire when the socket was refused are dropped, not counted again.
            if (refused) return;
            const now = performance.now();
            tokens = Math.min(limits.maxMessagesPerSecond, tokens + ((now - refilled) / 1000) * limits.maxMessagesPerSecond);
            refilled = now;
            if (tokens < 1) {
              refused = true;
              limits.onLimited?.();
              socket.close(CloseCode.TryAgainLater, 'Too many messages');
              return;
            }
            tokens -= 1;
            try {
              await handle(String(data));
            } catch (err) {
              // graphql-ws throws for a well-formed message a client may not send (next, error): that
              // is the client's mistake (4400), not ours (4500).
              if (err instanceof Error && err.message.startsWith('Unexpected message of type')) {
                socket.close(CloseCode.BadRequest, err.message.slice(0, 100));
                return;
              }
              logger.error({ err }, 'graphql-ws message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          });
        },
      },
      { socket, ip: request.socket.remoteAddress ?? null },
    );
    socket.once('close', (code, reason) => void closed(code, String(reason)));
  });

  return {
    async dispose() {
      clearInterval(ping);
      for (const client of wss.clients) client.close(CloseCode.GoingAway, 'Going away');
      wss.removeAllListeners('connection');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
