import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a loopback service, to simulate an outage without touching the
 * service: `cut()` drops every connection and refuses new ones until `restore()`. `counts` says how many
 * connections it accepted and how many bytes clients sent through it.
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1') {
  const open = new Set<Socket>();
  const counts = { connections: 0, clientBytes: 0 };
  let cut = false;
  const server = createServer((client) => {
    if (cut) return client.destroy();
    counts.connections++;
    client.on('data', (chunk: Buffer) => (counts.clientBytes += chunk.length));
    const upstream = connect({ host: targetHost, port: targetPort });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    counts,
    cut() {
      cut = true;
      for (const s of open) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    }),
  };
}
