import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshTrustAction } from '../src/inventory';
import type { ScanTarget, SshAccess } from '../src/model';
import { createCredentialedScanner, type CredentialSource } from '../src/scanner/credentialed';
import { createProbeScanner } from '../src/scanner/probe';
import { inventorySshdAvailable, startInventorySshd, type InventorySshd } from './support/inventory-sshd';
import { closedPort, sshListener } from './support/listeners';
import { startTcpProxy } from './support/tcp-proxy';

// The credentialed scanner reads a new host's SSH host key on the probe's own connection, going on from the
// banner into the key exchange; these tests count the connections and the bytes the scanner sends.

/** A listener that sends an SSH banner, then does what `then` says with the connection. */
async function bannerThen(then: (socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
    then(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

const noLogin: CredentialSource = {
  reveal: () => Promise.reject(new Error('no credential may be opened in these tests')),
};
const access = (a: Partial<SshAccess> = {}): SshAccess => ({ credentialId: null, trust: SshTrustAction.ErrorOnThumbprintMismatch, acceptKeyOnFirstContact: true, trustedKey: null, ...a });
const never = () => new AbortController().signal;

let winRm: number;
beforeAll(async () => {
  winRm = await closedPort();
});

function scanners(keyReadTimeoutMs?: number) {
  const probe = createProbeScanner();
  return {
    probe,
    /** The scanner the gateway runs: the probes, then the host key and the login where the host asks for them. */
    full: createCredentialedScanner({ probe, credentials: noLogin, keyReadTimeoutMs }),
  };
}
const target = (port: number, ssh?: SshAccess): ScanTarget => ({ name: 'h', dnsHostName: null, ipAddress: '127.0.0.1', sshPort: port, winRmPort: winRm, ...(ssh ? { ssh } : {}) });

describe.skipIf(!inventorySshdAvailable())('the host key of a real sshd, read on the banner\'s connection', () => {
  let sshd: InventorySshd;
  beforeAll(async () => {
    sshd = await startInventorySshd();
  });
  afterAll(async () => {
    await sshd?.close();
  });

  it('first contact, no credential: one connection; the probe\'s facts plus the key ssh-keygen prints', async () => {
    const proxy = await startTcpProxy(sshd.port);
    try {
      const { probe, full } = scanners();
      const probed = await probe.scan(target(proxy.port), never());
      expect(proxy.counts.connections).toBe(1);
      const scanned = await full.scan(target(proxy.port, access()), never());
      expect(proxy.counts.connections).toBe(2);
      expect(probed).toMatchObject({ ok: true, os: 'Debian' });
      expect(scanned).toEqual({ ...probed, hostKey: sshd.hostKey });
    } finally {
      await proxy.close();
    }
  });

  it('a key already recorded: no key exchange starts (the scanner sends nothing at all)', async () => {
    const proxy = await startTcpProxy(sshd.port);
    try {
      const { probe, full } = scanners();
      const probed = await probe.scan(target(proxy.port), never());
      const scanned = await full.scan(target(proxy.port, access({ trustedKey: sshd.hostKey.fingerprint })), never());
      expect(scanned).toEqual(probed);
      expect(proxy.counts).toEqual({ connections: 2, clientBytes: 0 });
    } finally {
      await proxy.close();
    }
  });

  it('a credential on a host that accepts no key at first contact: not logged in, the presented key named, one connection', async () => {
    const proxy = await startTcpProxy(sshd.port);
    try {
      const { full } = scanners();
      const before = sshd.log().length;
      const scanned = await full.scan(target(proxy.port, access({ credentialId: 'c-1', acceptKeyOnFirstContact: false })), never());
      expect(scanned).toMatchObject({
        ok: false,
        os: 'Debian',
        hostKey: sshd.hostKey,
        description: `No trusted SSH host key, and this host accepts none at first contact; it presented ${sshd.hostKey.fingerprint} (an Admin can accept it). Not logged in.`,
      });
      expect(proxy.counts.connections).toBe(1);
      expect(sshd.log().slice(before)).not.toMatch(/userauth-request|Accepted|Failed|Postponed/);
    } finally {
      await proxy.close();
    }
  });
});

describe('a host that sends a banner but no usable key exchange keeps its scan as the probe alone finds it', () => {
  const cases: [string, (socket: Socket) => void][] = [
    ['hangs up when the client speaks', (socket) => socket.once('data', () => socket.end())],
    ['closes right after the banner', (socket) => socket.end()],
    ['answers the key exchange with garbage', (socket) => socket.once('data', () => socket.write(Buffer.alloc(64, 0xff)))],
    ['resets the connection when the client speaks', (socket) => socket.once('data', () => socket.resetAndDestroy())],
  ];
  for (const [what, then] of cases) {
    it(`${what}: Complete with its OS, no key`, async () => {
      const listener = await bannerThen(then);
      try {
        const { probe, full } = scanners();
        const probed = await probe.scan(target(listener.port), never());
        const scanned = await full.scan(target(listener.port, access()), never());
        expect(probed).toMatchObject({ ok: true, os: 'Debian', version: '12' });
        expect(scanned).toEqual(probed);
      } finally {
        await listener.close();
      }
    });
  }

  it('never answers the key exchange: the key is given up after the key read timeout, the scan Complete', async () => {
    const listener = await bannerThen(() => {});
    try {
      const { probe, full } = scanners(300);
      const probed = await probe.scan(target(listener.port), never());
      const scanned = await full.scan(target(listener.port, access()), never());
      expect(scanned).toEqual(probed);
    } finally {
      await listener.close();
    }
  });

  it('a banner after other lines, then a hang-up: the same', async () => {
    const listener = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { preamble: ['Welcome', 'to the host'] });
    try {
      const { probe, full } = scanners();
      const scanned = await full.scan(target(listener.port, access()), never());
      expect(scanned).toEqual(await probe.scan(target(listener.port), never()));
    } finally {
      await listener.close();
    }
  });

  it('aborted during the key exchange: the scan rejects with the reason', async () => {
    let spoke!: () => void;
    const clientSpoke = new Promise<void>((resolve) => (spoke = resolve));
    const listener = await bannerThen((socket) => socket.once('data', () => spoke()));
    try {
      const controller = new AbortController();
      const scanning = scanners().full.scan(target(listener.port, access()), controller.signal);
      await clientSpoke;
      controller.abort(new Error('cancelled'));
      await expect(scanning).rejects.toThrow('cancelled');
    } finally {
      await listener.close();
    }
  });
});

it('SSH refused: the probes\' failure stands, no key read', async () => {
  const { probe, full } = scanners();
  const port = await closedPort();
  expect(await full.scan(target(port, access()), never())).toEqual(await probe.scan(target(port), never()));
});
