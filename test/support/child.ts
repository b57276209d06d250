import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll } from 'vitest';
import { TEST_SECRET } from './tokens';

export interface ChildGateway {
  url: string;
  child: ChildProcess;
  /** Every line the process wrote to stdout and stderr. */
  lines: string[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

// vitest runs from the repository root.
const MAIN = resolve('dist/main.js');

// A test that fails between starting a gateway and stopping it must not leave the process behind: one
// outlived its suite by an hour. Every test file that imports this gets the hook.
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** Run the built gateway (`dist/main.js`) as a real process on 127.0.0.1 and wait until it listens. */
export async function spawnGateway(env: Record<string, string>, timeoutMs = 45_000): Promise<ChildGateway> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', RATE_LIMIT_PER_ADDRESS: '0', RATE_LIMIT_PER_SUBJECT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  running.add(child);
  const exited = new Promise<number | string>((done) => child.once('exit', (code, signal) => {
    running.delete(child);
    done(code ?? signal ?? -1);
  }));
  const port = new Promise<number>((done, fail) => {
    // A gateway that never listens is killed, not left running: it would hold its data directory
    // while the test's cleanup removes it, and outlive the test.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`gateway did not listen within ${timeoutMs} ms:\n${lines.join('\n')}`));
    }, timeoutMs);
    const onLine = (line: string) => {
      lines.push(line);
      if (line.includes('"gateway listening"')) {
        clearTimeout(timer);
        done(JSON.parse(line).port);
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop()!;
        parts.forEach(onLine);
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`gateway exited (${code}) before listening:\n${lines.join('\n')}`));
    });
  });
  return { url: `http://127.0.0.1:${await port}`, child, lines, exited };
}
