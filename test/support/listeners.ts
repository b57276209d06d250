import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A loopback listener written for tests; counts the connections it accepted. */
export interface TestListener {
  host: string;
  port: number;
  readonly connections: number;
  close(): Promise<void>;
}

async function listen(server: Server | HttpServer, host: string, sockets: Set<Socket>): Promise<TestListener> {
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    host,
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Speaks an SSH identification line, optionally after other lines or a delay, like a real server; then,
 * unlike one, hangs up when the client starts its side (there is no key exchange behind the banner).
 */
export function sshListener(banner: string, options: { host?: string; preamble?: string[]; delayMs?: number } = {}) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    socket.once('data', () => socket.end());
    const speak = () => {
      if (socket.destroyed) return;
      for (const line of options.preamble ?? []) socket.write(`${line}\r\n`);
      socket.write(`${banner}\r\n`);
    };
    if (options.delayMs) setTimeout(speak, options.delayMs);
    else speak();
  });
  return listen(server, options.host ?? '127.0.0.1', sockets);
}

/** Accepts connections and never sends a byte. */
export function silentListener(host = '127.0.0.1') {
  return listen(createServer(() => {}), host, new Set());
}

/** The body of a WS-Management IdentifyResponse as Windows sends it. */
export const IDENTIFY_RESPONSE = (vendor: string, version: string) => `<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">
<s:Header/><s:Body><wsmid:IdentifyResponse><wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>
<wsmid:ProductVendor>${vendor}</wsmid:ProductVendor><wsmid:ProductVersion>${version}</wsmid:ProductVersion>
<wsmid:SecurityProfiles><wsmid:SecurityProfileName>http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos</wsmid:SecurityProfileName></wsmid:SecurityProfiles>
</wsmid:IdentifyResponse></s:Body></s:Envelope>`;

/** Answers WS-Management Identify on POST /wsman as Windows does, or 401 when it wants credentials. */
export function winrmListener(options: { status?: 200 | 401; productVersion?: string; host?: string } = {}) {
  const requests: { headers: Record<string, unknown>; body: string }[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body });
      if (req.method !== 'POST' || req.url !== '/wsman') return res.writeHead(404).end();
      if (options.status === 401) return res.writeHead(401, { 'www-authenticate': 'Negotiate' }).end();
      res.writeHead(200, { 'content-type': 'application/soap+xml;charset=UTF-8' });
      res.end(IDENTIFY_RESPONSE('Microsoft Corporation', options.productVersion ?? 'OS: 10.0.20348 SP: 0.0 Stack: 3.0'));
    });
  });
  return listen(server, options.host ?? '127.0.0.1', new Set()).then((l) => Object.assign(l, { requests }));
}

/**
 * A loopback port with nothing listening on it. Taken below 1024, where listen(0) never assigns ports,
 * so no listener a test starts later can land on it.
 */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  for (const port of [1, 3, 5, 7, 9, 11, 13, 17, 19, 37, 39, 42, 47]) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error('no closed low port on loopback');
}

/** A port that was free a moment ago, for a server started by another program (sshd). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
