import { createServer, type Server, type Socket } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { Server as SshServer } from 'ssh2';

export interface DemoTarget {
  /** The loopback address its SSH server answers on. */
  readonly host: '127.0.0.1';
  /** The loopback port its SSH server answers on. */
  readonly sshPort: number;
  /** A loopback port it holds and resets every connection to: WinRM is closed there, whatever else runs. */
  readonly winRmPort: number;
  stop(): Promise<void>;
}

// What a Debian 12 server says, so the first scan names an OS and a version.
const IDENT = 'OpenSSH_9.2p1 Debian-2+deb12u3';
// Long enough to see a first scan Running on the dashboard before it completes.
const ANSWER_DELAY_MS = 1_000;

/**
 * Development's first scan target: a real SSH server (ssh2) on a free loopback port with a key made at
 * start, answering each connection after a short pause and refusing every login. The demo host points at
 * it, so a newcomer's first scan goes Queued → Running → Complete with an OS and records a host key. Never
 * started in production.
 *
 * The demo host's WinRM port is one the target holds too, resetting every connection at once: with the
 * default 5985 the first scan's outcome would depend on whatever listens there on the reader's machine (a
 * real WinRM listener would turn the demo into Windows; a silent one would hold the scan for the read
 * timeout). Node cannot bind a port without listening, so "closed" is a listener that answers with RST.
 */
export async function startDemoTarget(): Promise<DemoTarget> {
  // node:crypto's P-256 key in SEC1 PEM, which ssh2 reads: its own ed25519 generator now and then makes a
  // key its parser refuses ("Malformed OpenSSH private key"), which failed a start.
  const hostKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' });
  const ssh = new SshServer({ hostKeys: [hostKey], ident: IDENT }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (ctx) => ctx.reject([]));
  });
  const sockets = new Set<Socket>();
  const front = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const answer = setTimeout(() => ssh.injectSocket(socket), ANSWER_DELAY_MS);
    socket.on('close', () => {
      clearTimeout(answer);
      sockets.delete(socket);
    });
  });
  const closed = createServer((socket) => {
    socket.on('error', () => {});
    socket.resetAndDestroy();
  });
  let sshPort: number;
  let winRmPort: number;
  try {
    sshPort = await listenOnLoopback(front);
    winRmPort = await listenOnLoopback(closed);
  } catch (err) {
    front.close();
    closed.close();
    throw err;
  }
  const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    host: HOST,
    sshPort,
    winRmPort,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all([close(front), close(closed)]);
    },
  };
}

const HOST = '127.0.0.1';

async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('The demo target has no port.');
  return address.port;
}
