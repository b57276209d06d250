import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './listeners';

export const SSHD = '/usr/sbin/sshd';

/** Whether Debian's OpenSSH server is here; without CI its tests skip, and say so. */
export function sshdAvailable(): boolean {
  if (existsSync(SSHD)) return true;
  if (process.env.CI) throw new Error(`${SSHD} is missing, and CI requires the OpenSSH tests: .ci/run installs openssh-server.`);
  console.warn(`SKIPPING the OpenSSH server tests: ${SSHD} is not installed (apt-get install openssh-server).`);
  return false;
}

/** A real OpenSSH server on 127.0.0.1 with a throwaway host key, nobody allowed to log in. */
export async function startSshd(): Promise<{ port: number; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'scan-gateway-sshd-'));
  const key = join(dir, 'host_ed25519');
  const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${key}`, `PidFile ${join(dir, 'sshd.pid')}`, 'UsePAM no',
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication no', 'StrictModes no', 'AllowUsers nobody-here',
  ].join('\n'));
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    async close() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** The banner the installed sshd sends, e.g. `SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10`. */
export function installedSshVersion(): string {
  return spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim();
}
