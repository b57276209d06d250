import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger';
import type { ScanTarget } from '../src/model';
import type { SshCredential } from '../src/inventory';
import { createCredentialedScanner } from '../src/scanner/credentialed';
import { createProbeScanner } from '../src/scanner/probe';
import { createThreadedScanner, type ThreadedScanner } from '../src/scanner/thread';
import { closedPort, silentListener, sshListener, type TestListener } from './support/listeners';
import { until } from './support/wait';

// The scanner the gateway runs by default, on its own thread: the same outcomes as on the main thread, and
// the same contract (aborts reject with the signal's reason, `waiting` is told, credentials are asked for).
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function started<T extends TestListener>(l: Promise<T>): Promise<T> {
  const listener = await l;
  cleanup.push(() => listener.close());
  return listener;
}

function threaded(credentials: { reveal(id: string): Promise<SshCredential | null> } | null = null): ThreadedScanner {
  const scanner = createThreadedScanner({ options: {}, credentials, logger: createLogger('silent') });
  cleanup.push(() => scanner.stop());
  return scanner;
}

const target = (sshPort: number, winRmPort: number, ssh?: ScanTarget['ssh']): ScanTarget => ({
  name: 'thread-test', dnsHostName: null, ipAddress: '127.0.0.1', sshPort, winRmPort, ...(ssh ? { ssh } : {}),
});
const firstContact = { credentialId: null, trust: 2, acceptKeyOnFirstContact: true, trustedKey: null };

describe('the scanner thread', () => {
  it('finds what the scanner finds on the main thread, for a host that answers and one that refuses', async () => {
    const ssh = await started(sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3'));
    const closed = await closedPort();
    const inline = createCredentialedScanner({ probe: createProbeScanner(), credentials: null });
    const scanner = threaded();
    await scanner.start();
    for (const t of [target(ssh.port, closed, firstContact), target(closed, closed)]) {
      const [theirs, ours] = await Promise.all([inline.scan(t, new AbortController().signal), scanner.scan(t, new AbortController().signal)]);
      expect(ours).toEqual(theirs);
    }
    expect((await scanner.scan(target(ssh.port, closed), new AbortController().signal)).os).toBe('Debian');
  });

  it('tells `waiting` about a host that does not answer, and rejects with the reason when aborted', async () => {
    const silent = await started(silentListener());
    const scanner = threaded();
    const controller = new AbortController();
    const told: boolean[] = [];
    const scan = scanner.scan(target(silent.port, await closedPort()), controller.signal, { waiting: (w) => told.push(w) });
    await until('the scanner thread tells that the scan waits', () => told.includes(true));
    controller.abort('cancel');
    await expect(scan).rejects.toBe('cancel');
    // An aborted signal is not even sent to the thread.
    await expect(scanner.scan(target(silent.port, 1), controller.signal)).rejects.toBe('cancel');
  });

  it('asks the main thread for a host\'s credential, once, and reports what it said', async () => {
    const ssh = await started(sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3'));
    const asked: string[] = [];
    const withCredential = { ...firstContact, credentialId: 'cred-1' };
    const gone = threaded({ reveal: async (id) => (asked.push(id), null) });
    const outcome = await gone.scan(target(ssh.port, await closedPort(), withCredential), new AbortController().signal);
    expect(asked).toEqual(['cred-1']);
    expect(outcome).toMatchObject({ ok: false, description: "The host's credential no longer exists. Not logged in." });

    const sealed = threaded({ reveal: async () => { throw new Error('CREDENTIALS_KEY is not set'); } });
    await expect(sealed.scan(target(ssh.port, await closedPort(), withCredential), new AbortController().signal)).rejects.toThrow('CREDENTIALS_KEY is not set');
  });

  it('fails the scans in flight when its thread dies, and starts a new thread for the next scan', async () => {
    const silent = await started(silentListener());
    const ssh = await started(sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3'));
    const closed = await closedPort();
    const scanner = threaded();
    const inFlight = scanner.scan(target(silent.port, closed), new AbortController().signal);
    await until('the scan connected', () => silent.connections > 0);
    await scanner.terminateForTests();
    await expect(inFlight).rejects.toThrow(/The scanner thread stopped/);
    expect((await scanner.scan(target(ssh.port, closed), new AbortController().signal)).os).toBe('Debian');
  });

  it('refuses scans once stopped, and stopping again is harmless', async () => {
    const scanner = threaded();
    await scanner.stop();
    await scanner.stop();
    await expect(scanner.scan(target(1, 1), new AbortController().signal)).rejects.toThrow('The scanner is stopped');
    await expect(scanner.start()).rejects.toThrow('The scanner is stopped');
  });
});
