import { createServer, type Socket } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { Server as SshServer } from 'ssh2';

export interface DemoTarget {
  /** The loopback port its SSH server answers on. */
  readonly sshPort: number;
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
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, '127.0.0.1', () => resolve());
  });
  const address = front.address();
  if (!address || typeof address === 'string') throw new Error('The demo target has no port.');
  return {
    sshPort: address.port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        front.close(() => resolve());
      }),
  };
}
