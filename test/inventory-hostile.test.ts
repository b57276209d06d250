import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectInventory, type CollectLimits, type CollectOutcome } from '../src/inventory/collect';
import { SshTrustAction, type InventorySnapshot } from '../src/inventory/model';
import type { SshCredential } from '../src/inventory/ssh-session';
import { inventorySshdAvailable, startInventorySshd, type InventorySshd } from './support/inventory-sshd';
import { closedPort, silentListener } from './support/listeners';

const POLICY = { trust: SshTrustAction.WarnOnThumbprintMismatch, knownFingerprint: null };
const available = inventorySshdAvailable();

/** Every outcome these tests saw, searched for the secrets at the end. */
const seen: unknown[] = [];
const secrets: string[] = [];
async function collect(sshd: { host: string; port: number }, credential: SshCredential, limits: Partial<CollectLimits> = {}, signal = new AbortController().signal) {
  const outcome = await collectInventory({ host: sshd.host, port: sshd.port }, credential, POLICY, signal, limits);
  seen.push(outcome);
  return outcome;
}
const asRoot = (sshd: InventorySshd): SshCredential => ({ username: 'root', privateKey: sshd.rootKey });
function snapshotOf(o: CollectOutcome): InventorySnapshot {
  if (!o.ok) throw new Error(`expected a snapshot, got ${o.reason}: ${o.message}`);
  return o.snapshot;
}
/** Every string anywhere in a value. */
const stringsOf = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(stringsOf) : v && typeof v === 'object' ? Object.values(v).flatMap(stringsOf) : [];
/** Established loopback client connections to `port` (the kernel's table: remote port `port`, state 01). */
const establishedTo = (port: number) =>
  readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((f) => f[2]?.endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`) && f[3] === '01').length;

describe.skipIf(!available)('what a host sends is bounded', () => {
  it('a 100,000-line /etc/passwd is cut at the byte limit and parsed within the line cap, in bounded time', async () => {
    const sshd = await startInventorySshd({
      edit: (root) => appendFileSync(join(root, 'etc', 'passwd'),
        Array.from({ length: 100_000 }, (_, i) => `user${i}:x:${10_000 + i}:100:Generated ${i}:/home/user${i}:/bin/sh\n`).join('')),
    });
    try {
      const started = performance.now();
      const snapshot = snapshotOf(await collect(sshd, asRoot(sshd)));
      expect(performance.now() - started).toBeLessThan(15_000);
      expect(snapshot.notes).toContain('/etc/passwd: only the first 4194304 bytes were read; the rest was left out');
      expect(snapshot.notes).toContainEqual(expect.stringMatching(/^\/etc\/passwd: only the first 20000 lines were read; \d+ more were left out$/));
      expect(snapshot.users).toHaveLength(20_000);
      expect(snapshot.users[0]).toMatchObject({ name: 'root', unixId: 0 });
    } finally {
      await sshd.close();
    }
  });

  it('binary, overlong and non-UTF-8 files end as notes and clean strings, and the rest is collected', async () => {
    const sshd = await startInventorySshd({
      edit: (root) => {
        const etc = join(root, 'etc');
        writeFileSync(join(etc, 'os-release'), randomBytes(64 * 1024));
        appendFileSync(join(etc, 'group'), Buffer.concat([
          Buffer.from('weird:x:2000:al'), Buffer.from([0xff, 0xfe, 0x00, 0x1b]), Buffer.from('[31mice,bob\n'),
          Buffer.from(`long:x:2001:${'m,'.repeat(50_000)}\n`),
        ]));
        writeFileSync(join(etc, 'cron.d', 'binary'), randomBytes(32 * 1024));
        writeFileSync(join(etc, 'cron.d', 'long'), `* * * * * root ${'x'.repeat(100_000)}\n`);
        writeFileSync(join(root, 'lib-systemd', 'garbage.service'),
          Buffer.concat([Buffer.from('[Unit]\nDescription=bad '), Buffer.from([0xc3, 0x28, 0x00, 0x07]), Buffer.from('\n'), randomBytes(8192)]));
      },
    });
    try {
      const snapshot = snapshotOf(await collect(sshd, asRoot(sshd)));
      expect(snapshot.users.find((u) => u.name === 'alice')).toBeDefined();
      expect(snapshot.groups.find((g) => g.name === 'weird')?.members).toEqual(['al\uFFFD\uFFFD\uFFFD\uFFFD[31mice', 'bob']);
      expect(snapshot.notes).toContain('/etc/group: 1 line longer than 8192 characters were skipped');
      expect(snapshot.notes).toContainEqual(expect.stringMatching(/^system crontabs .*: 1 line longer than 8192 characters were skipped$/));
      for (const s of stringsOf(snapshot)) {
        expect(s).not.toMatch(/[\u0000-\u0008\u000a-\u001f\u007f]/);
        expect(s).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/); // no lone surrogate
      }
      expect(structuredClone(snapshot)).toEqual(snapshot); // crosses a worker thread as it is
    } finally {
      await sshd.close();
    }
  });
});

describe.skipIf(!available)('a host that stalls (a FIFO as /etc/os-release: cat never returns)', () => {
  let sshd: InventorySshd;
  beforeAll(async () => {
    sshd = await startInventorySshd({
      edit: (root) => {
        rmSync(join(root, 'etc', 'os-release'));
        execFileSync('mkfifo', [join(root, 'etc', 'os-release')]);
      },
    });
  });
  afterAll(async () => {
    await sshd?.close();
  });

  it('one stalled command becomes a note at its time limit; the rest is collected', async () => {
    const started = performance.now();
    const snapshot = snapshotOf(await collect(sshd, asRoot(sshd), { commandTimeoutMs: 1000 }));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(snapshot.notes).toContain('os-release could not be read (no result within 1000 ms); the OS name and version are not known');
    expect(snapshot.os).toBeNull();
    expect(snapshot.users.length).toBe(21);
  });

  it('the whole collection ends at its total time limit, with what it has', async () => {
    const started = performance.now();
    const snapshot = snapshotOf(await collect(sshd, asRoot(sshd), { totalTimeoutMs: 1500 }));
    expect(performance.now() - started).toBeLessThan(3000);
    expect(snapshot.notes).toContain("os-release could not be read (not read: the collection's time limit of 1500 ms passed); the OS name and version are not known");
    expect(snapshot.users.length).toBe(21);
  });

  it('abort mid-collection rejects at once with the reason, and the socket is closed', async () => {
    const controller = new AbortController();
    const before = sshd.log().length;
    const collecting = collect(sshd, asRoot(sshd), {}, controller.signal);
    const outcome = collecting.then(() => 'resolved', (err: unknown) => err);
    while (!sshd.log().slice(before).includes('Accepted publickey for root')) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // the parts are running; os-release never ends
    expect(establishedTo(sshd.port)).toBe(1);
    const reason = new Error('operator cancelled');
    const abortedAt = performance.now();
    controller.abort(reason);
    expect(await outcome).toBe(reason);
    expect(performance.now() - abortedAt).toBeLessThan(100);
    expect(establishedTo(sshd.port)).toBe(0);
  });
});

describe.skipIf(!available)('a host that sends the password back', () => {
  // Only collections with the password are made here: a collection redacts the secrets it was given, and
  // one logged in by key was never given this password.
  it('has it redacted from the snapshot and the notes', async () => {
    const sshd = await startInventorySshd({
      edit: (root, password) => {
        const passwd = join(root, 'etc', 'passwd');
        writeFileSync(passwd, readFileSync(passwd, 'utf8').replace('Scan account:/home/scanner:/bin/sh', `Scan account ${password}:/home/scanner:/bin/bash`));
        // bash reads ~/.bashrc for commands sshd starts; this one writes the password to every command's stderr.
        writeFileSync(join(root, 'home', 'scanner', '.bashrc'), `echo "motd: ${password}" >&2\n`);
        chmodSync(join(root, 'home', 'scanner', '.bashrc'), 0o644);
      },
    });
    secrets.push(sshd.scanner.password, sshd.scanner.passphrase);
    try {
      const snapshot = snapshotOf(await collect(sshd, { username: 'scanner', password: sshd.scanner.password }));
      expect(snapshot.users.find((u) => u.name === 'scanner')?.displayName).toBe('Scan account [redacted]');
      expect(snapshot.notes).toContainEqual(expect.stringMatching(/^\/etc\/shadow could not be read \(exit status 2: motd: \[redacted\], and 1 more\)/));
      const refused = await collect(sshd, { username: 'scanner', privateKey: sshd.scanner.privateKey, passphrase: `${sshd.scanner.passphrase}x` });
      expect(refused).toMatchObject({ ok: false, reason: 'access-denied' });
    } finally {
      await sshd.close();
    }
  });
});

describe('a target that is not a usable SSH server', () => {
  const credential = { username: 'root', password: 'never-sent-anywhere' };
  const servers: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });
  /** A loopback server that answers every connection with `reply`. */
  const replying = async (reply: (socket: Socket) => void) => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      reply(socket);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push({ close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }) });
    return { host: '127.0.0.1', port: (server.address() as { port: number }).port };
  };

  it('nothing listening: connect-failed', async () => {
    const port = await closedPort();
    expect(await collect({ host: '127.0.0.1', port }, credential)).toEqual({ ok: false, reason: 'connect-failed', message: `127.0.0.1:${port}: connection refused` });
  });

  it('a silent listener: timeout at the login limit', async () => {
    const silent = await silentListener();
    servers.push(silent);
    const started = performance.now();
    expect(await collect(silent, credential, { loginTimeoutMs: 500 })).toEqual({ ok: false, reason: 'timeout', message: `no SSH login at 127.0.0.1:${silent.port} within 500 ms` });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('an HTTP server: protocol', async () => {
    const http = await replying((s) => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    expect(await collect(http, credential, { loginTimeoutMs: 2000 })).toMatchObject({ ok: false, reason: 'protocol' });
  });

  it('endless binary without a line end: bounded, protocol or timeout, never a crash', async () => {
    const junk = randomBytes(64 * 1024);
    const flood = await replying((s) => {
      const pump = () => { while (!s.destroyed && s.write(junk)); };
      s.on('drain', pump);
      pump();
    });
    const o = await collect(flood, credential, { loginTimeoutMs: 1500 });
    expect(o).toMatchObject({ ok: false, reason: expect.stringMatching(/^(protocol|timeout)$/) });
  });
});

describe('secrets', () => {
  it('no outcome or message of these tests contains a password or passphrase', () => {
    const text = JSON.stringify(seen);
    expect(seen.length).toBeGreaterThan(3);
    for (const secret of [...secrets, 'never-sent-anywhere']) expect(text).not.toContain(secret);
  });
});
