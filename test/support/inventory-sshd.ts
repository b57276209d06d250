import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './listeners';
import { SSHD, sshdAvailable } from './sshd';
import { until } from './wait';

/**
 * The committed fixture: `etc/` overlays /etc, `lib-systemd/` replaces /lib/systemd/system, `spool/` overlays
 * /var/spool, `home/` replaces /home and `home/root` replaces /root.
 */
export const INVENTORY_FIXTURE = join(__dirname, '..', 'fixtures', 'inventory');

/**
 * Whether a real sshd over a fixture /etc can run here: Debian's sshd, `unshare`, and root (mounting in a
 * private mount namespace needs it). Without them the tests skip and say so loudly, unless CI is set.
 */
export function inventorySshdAvailable(): boolean {
  if (!sshdAvailable()) return false;
  const missing = [!existsSync('/usr/bin/unshare') && 'unshare (util-linux)', process.getuid?.() !== 0 && 'root'].filter(Boolean);
  if (missing.length === 0) return true;
  if (process.env.CI) throw new Error(`the inventory sshd fixture needs ${missing.join(' and ')}; CI requires these tests`);
  console.warn(`SKIPPING the credentialed inventory tests: they need ${missing.join(' and ')}.`);
  return false;
}

export interface InventorySshd {
  host: '127.0.0.1';
  port: number;
  /** The fixture copy: `etc/`, `lib-systemd/`, `spool/`, keys. */
  root: string;
  /** The host key sshd serves, as `ssh-keygen -l` prints it. */
  hostKey: { algorithm: string; fingerprint: string };
  /** The fingerprint of another key: a "known" fingerprint that this server does not match. */
  otherFingerprint: string;
  /** `root`, logged in by an unencrypted ed25519 key: reads everything. */
  rootKey: string;
  /** `scanner`, an unprivileged account with a password and a passphrase-protected key. */
  scanner: { username: 'scanner'; password: string; privateKey: string; passphrase: string };
  /** sshd's own log (LogLevel DEBUG) so far. */
  log(): string;
  /**
   * The log lines written while `f` ran, once each of `expected` is among them: sshd writes a session's
   * lines after the client has gone, so the test waits for the lines it asserts rather than for a time.
   * With none expected (a test that asserts only what is absent), a short pause.
   */
  logDuring<T>(f: () => Promise<T>, expected?: RegExp[]): Promise<{ result: T; log: string }>;
  close(): Promise<void>;
}

export interface InventorySshdOptions {
  /**
   * Changes the fixture copy (at `root`) before sshd starts, after the usual modes and owners are set.
   * Gets the scanner's password too, for fixtures of a host that sends it back.
   */
  edit?: (root: string, scannerPassword: string) => void;
}

/**
 * Debian's sshd on a free 127.0.0.1 port, in a private mount and UTS namespace where /etc, /lib/systemd/system
 * and /var/spool show the fixture, and the host name is `fixture-host`. Every command run over SSH reads the
 * fixture's passwd, group, shadow, sudoers, crontabs, os-release and unit files; the rest of the machine
 * shows through unchanged. The overlays are read-only, and they vanish with the namespace when sshd stops.
 * systemd does not run in the namespace: `systemctl list-unit-files` works offline from the unit
 * directories, as it does on this machine. Name lookups are files-only and DNS points at loopback.
 */
export async function startInventorySshd(options: InventorySshdOptions = {}): Promise<InventorySshd> {
  const root = mkdtempSync(join(tmpdir(), 'inventory-sshd-'));
  chmodSync(root, 0o755); // the login users must reach their files through it
  cpSync(INVENTORY_FIXTURE, root, { recursive: true, verbatimSymlinks: true });
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const passphrase = `pp-${randomBytes(12).toString('base64url')}`;
  const hash = run('openssl', ['passwd', '-6', '-stdin'], password).trim();
  const shadowPath = join(root, 'etc', 'shadow');
  writeFileSync(shadowPath, readFileSync(shadowPath, 'utf8').replace('@SCANNER_PASSWORD_HASH@', hash));
  setModes(root);

  const keys = join(root, 'keys');
  mkdirSync(join(keys, 'authorized'), { recursive: true });
  const keygen = (name: string, pass: string) => {
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', pass, '-C', name, '-f', join(keys, name)]);
    return { privateKey: readFileSync(join(keys, name), 'utf8'), publicKey: readFileSync(join(keys, `${name}.pub`), 'utf8') };
  };
  keygen('host', '');
  keygen('other-host', '');
  const rootKey = keygen('root', '');
  const scannerKey = keygen('scanner', passphrase);
  writeFileSync(join(keys, 'authorized', 'root'), rootKey.publicKey);
  writeFileSync(join(keys, 'authorized', 'scanner'), scannerKey.publicKey);
  const fingerprint = (name: string) => run('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(keys, `${name}.pub`)]).split(' ')[1]!;

  options.edit?.(root, password);
  mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  const config = join(root, 'sshd_config');
  const logFile = join(root, 'sshd.log');
  writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(keys, 'host')}`, `PidFile ${join(root, 'sshd.pid')}`,
    'UsePAM no', 'PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes',
    `AuthorizedKeysFile ${join(keys, 'authorized')}/%u`, 'PermitRootLogin prohibit-password', 'AllowUsers root scanner',
    'StrictModes no', 'UseDNS no', 'PrintMotd no', 'PrintLastLog no', 'LogLevel DEBUG', 'MaxStartups 50:30:100', '',
  ].join('\n'));

  // Paths go in as arguments, never into the script text.
  const script = [
    'set -e',
    'mount -t overlay inventory-etc -o "lowerdir=$1/etc:/etc" /etc',
    // Whole directories, not merged: the machine's own cron jobs and units must not show through.
    'mount --bind "$1/etc/cron.d" /etc/cron.d',
    'mount --bind "$1/etc/systemd/system" /etc/systemd/system',
    'mount --bind "$1/lib-systemd" /lib/systemd/system',
    'mount -t overlay inventory-spool -o "lowerdir=$1/spool:/var/spool" /var/spool',
    // Fixture homes: the machine's /root (its shell start-up files) must not run in the fixture's sessions.
    'mount --bind "$1/home/root" /root',
    'mount --bind "$1/home" /home',
    'hostname fixture-host',
    // -E, not -e: with -e the session processes' debug lines would reach the commands' standard error.
    `exec ${SSHD} -D -E "$3" -f "$2"`,
  ].join('\n');
  const child: ChildProcess = spawn('unshare', ['-m', '-u', '--propagation', 'private', 'sh', '-c', script, 'sh', root, config, logFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true, // its own process group: stopping it also ends sshd's per-connection children
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const deadline = Date.now() + 10_000;
  while (!log().includes(`Server listening on 127.0.0.1 port ${port}`)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      stop(child);
      const why = `${stderr}${log()}`;
      rmSync(root, { recursive: true, force: true });
      throw new Error(`the inventory sshd did not start: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  let closed: Promise<void> | null = null;
  return {
    host: '127.0.0.1',
    port,
    root,
    hostKey: { algorithm: 'ssh-ed25519', fingerprint: fingerprint('host') },
    otherFingerprint: fingerprint('other-host'),
    rootKey: rootKey.privateKey,
    scanner: { username: 'scanner', password, privateKey: scannerKey.privateKey, passphrase },
    log,
    async logDuring(f, expected = []) {
      const before = log().length;
      const result = await f();
      if (expected.length === 0) await new Promise((r) => setTimeout(r, 200));
      const written = await until(`sshd to log ${expected.join(', ')}`, () => {
        const lines = log().slice(before);
        return expected.every((line) => line.test(lines)) && lines;
      }).catch(() => log().slice(before)); // the test's own assertion then says which line is missing
      return { result, log: written };
    },
    close() {
      closed ??= (async () => {
        const exited = child.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
        stop(child);
        await exited;
        rmSync(root, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}

function stop(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** Modes and owners as a Debian host has them; git keeps neither. */
function setModes(root: string): void {
  const etc = join(root, 'etc');
  const gid = (name: string) => Number(readFileSync(join(etc, 'group'), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!.split(':')[2]);
  const uid = (name: string) => Number(readFileSync(join(etc, 'passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!.split(':')[2]);
  chownSync(join(etc, 'shadow'), 0, gid('shadow'));
  chmodSync(join(etc, 'shadow'), 0o640);
  chmodSync(join(etc, 'sudoers'), 0o440);
  for (const f of ['admins', 'frank', 'mallory.bak', 'README']) chmodSync(join(etc, 'sudoers.d', f), 0o440);
  chmodSync(join(etc, 'sudoers.d'), 0o755);
  const crontabs = join(root, 'spool', 'cron', 'crontabs');
  chownSync(crontabs, 0, gid('crontab'));
  chmodSync(crontabs, 0o1730);
  for (const user of ['alice', 'root']) {
    chownSync(join(crontabs, user), uid(user), gid('crontab'));
    chmodSync(join(crontabs, user), 0o600);
  }
}

function run(command: string, args: string[], input?: string): string {
  const r = spawnSync(command, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr}`);
  return r.stdout;
}
