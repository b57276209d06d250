// The program that serves a fleet's hosts: one process, started inside the fleet's namespace by
// createFleet (`ip netns exec NS node --import tsx fleet-listeners.ts`), told the hosts over IPC. It
// listens on port 22 of each SSH host and port 5985 of each WinRM host; every other port of every host
// has nobody listening, so the kernel answers RST, as a real host does. It exits with its parent.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import type { FleetHost } from './fleet-plan';
import { IDENTIFY_RESPONSE } from './listeners';

/** What the listeners tell the parent once every host listens, or why they could not. */
export type FleetListenersReady = { listening: number } | { error: string };

// What Windows' HTTP.sys puts on every WinRM answer, spelt and ordered as it sends them: nmap names the
// service (and Windows) by `Content-Type: text/html; charset=us-ascii\r\nServer: Microsoft-HTTPAPI/2.0`.
const SERVER = 'Microsoft-HTTPAPI/2.0';
const NOT_FOUND = '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n<HTML><HEAD><TITLE>Not Found</TITLE></HEAD><BODY><h2>Not Found</h2><hr><p>HTTP Error 404. The requested resource is not found.</p></BODY></HTML>\r\n';

function sshHost(banner: string, delayMs: number): Server {
  return createServer((socket) => {
    socket.on('error', () => {});
    // A real sshd waits for the client's identification for a while, then hangs up; one that got it would
    // go on with the key exchange, which this one cannot, so it hangs up then (a host key probe ends at once).
    socket.setTimeout(20_000, () => socket.destroy());
    socket.once('data', () => socket.end());
    const speak = () => {
      if (!socket.destroyed) socket.write(`${banner}\r\n`);
    };
    if (delayMs > 0) {
      const timer = setTimeout(speak, delayMs);
      socket.on('close', () => clearTimeout(timer));
    } else speak();
  });
}

function winrmHost(productVersion: string): HttpServer {
  return createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/wsman') {
        const body = IDENTIFY_RESPONSE('Microsoft Corporation', productVersion);
        res.writeHead(200, { 'Content-Type': 'application/soap+xml;charset=UTF-8', Server: SERVER, 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/html; charset=us-ascii', Server: SERVER, 'Content-Length': Buffer.byteLength(NOT_FOUND) });
        res.end(NOT_FOUND);
      }
    });
  }).on('clientError', (_err, socket) => socket.destroy());
}

async function listenAll(hosts: readonly FleetHost[]): Promise<number> {
  const servers: Promise<void>[] = [];
  for (const host of hosts) {
    const server = host.kind === 'ssh' ? sshHost(host.banner!, host.delayMs ?? 0) : host.kind === 'winrm' ? winrmHost(host.productVersion!) : null;
    if (!server) continue;
    const port = host.kind === 'ssh' ? 22 : 5985;
    servers.push(
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: host.address, port, backlog: 511 }, () => resolve());
      }),
    );
  }
  await Promise.all(servers);
  return servers.length;
}

process.once('message', (hosts: FleetHost[]) => {
  listenAll(hosts).then(
    (listening) => process.send!({ listening } satisfies FleetListenersReady),
    (err: Error) => process.send!({ error: err.message } satisfies FleetListenersReady),
  );
});
process.on('disconnect', () => process.exit(0));
