import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

/** Run a built CLI (`dist/cli/NAME.js`) as the operator would; resolves with its exit code and output. */
export function runCli(name: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [resolve(`dist/cli/${name}.js`), ...args], { env: { PATH: process.env.PATH, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}
