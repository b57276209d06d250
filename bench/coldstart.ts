// Cold start to ready with an existing DATA_DIR: spawn the built gateway, time until /health/ready is 200.
//   npm run build && node --import tsx bench/coldstart.ts
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir, fmt, report } from './lib';

const ENV = { PATH: process.env.PATH, HOST: '127.0.0.1', JWT_SECRET: 'bench-secret-0123456789-abcdefghijklmnop', LOG_LEVEL: 'warn' };

async function startOnce(dataDir: string, port: number): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'main.js')], { env: { ...ENV, DATA_DIR: dataDir, PORT: String(port) }, stdio: 'ignore' });
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      if (res.status === 200) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - started;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

(async () => {
  const data = tempDir('coldstart-');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const first = await startOnce(join(data.dir, 'db'), port); // creates and migrates the data directory
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) runs.push(await startOnce(join(data.dir, 'db'), port));
  data.remove();
  runs.sort((a, b) => a - b);
  report('Cold start to ready (spawn → GET /health/ready 200)', [
    ['first start: creates the embedded database', `${fmt(first)} ms`],
    ['with an existing DATA_DIR, median of 5', `${fmt(runs[2]!)} ms (target ≤ 3000 ms)`],
    ['  fastest / slowest', `${fmt(runs[0]!)} / ${fmt(runs[4]!)} ms`],
  ]);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
