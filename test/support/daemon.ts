import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

/**
 * Whether a server program the tests start themselves is installed. Without CI its tests skip, and say
 * so; under CI a missing one fails (.ci/run installs it).
 */
export function binaryAvailable(path: string, debianPackage: string): boolean {
  if (existsSync(path)) return true;
  if (process.env.CI) throw new Error(`${path} is missing, and CI requires its tests: .ci/run installs ${debianPackage}.`);
  console.warn(`\n*** SKIPPING the tests that need ${path} (apt-get install ${debianPackage}). ***\n`);
  return false;
}

/**
 * A server process on a loopback port, started by a test and stopped by it; `restart` stops it and starts
 * it again on the same port (an outage of the service, not of the network).
 */
export async function startDaemon(command: string, args: string[], port: number, options: { uid?: number; gid?: number } = {}) {
  let child: ChildProcess;
  let output = '';
  const start = async () => {
    output = '';
    child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (c) => (output += c));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${command} did not start on ${port}:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    /** What the process wrote since it last started. */
    output: () => output,
    stop,
    async restart(downMs = 0) {
      await stop();
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
  };
}

export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
