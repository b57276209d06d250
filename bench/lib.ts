// Shared helpers for the benchmarks: child processes, load runs, temp data, timing and output.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** One autocannon run, as bench/load-child.ts receives it. */
export interface LoadJob {
  url: string;
  connections: number;
  duration?: number;
  /** A fixed number of requests instead of a duration. */
  amount?: number;
  timeout?: number;
  method?: string;
  headers?: Record<string, string>;
  bodies?: string[];
  /** A short unmeasured run first. */
  warmup?: boolean;
  /** Requests per second across all connections; as fast as they go when unset. */
  overallRate?: number;
}

/** What bench/load-child.ts answers. */
export interface LoadResult {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** Fork a benchmark helper (a .ts file, run through tsx) and wait for its first message. */
export function forkHelper<T = unknown>(file: string, args: string[] = [], execArgv: string[] = []): { child: ChildProcess; first: Promise<T> } {
  const child = fork(join(__dirname, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--import', 'tsx', ...execArgv] });
  const first = new Promise<T>((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
  return { child, first };
}

/** Run autocannon in its own process against `url`; resolves with { rps, p50, p99, non2xx, errors }. */
export async function load(job: LoadJob): Promise<LoadResult> {
  if (job.warmup) {
    // A short unmeasured run first, so JIT warm-up and cold caches are not part of the figure.
    const warm = Math.min(200, job.bodies ? Math.floor(job.bodies.length / 10) : 200);
    await load({ ...job, warmup: false, duration: 1, bodies: job.bodies?.slice(0, warm) });
    if (job.bodies) job = { ...job, bodies: job.bodies.slice(warm) };
  }
  const { child } = forkHelper('load-child.ts');
  const done = new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (m) => resolve(m as LoadResult));
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
  });
  child.send(job);
  const result = await done;
  child.kill();
  return result;
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh PostgreSQL database on the machine's server, or null when there is none. */
export async function tempDatabase(): Promise<{ url: string; drop(): Promise<void> } | null> {
  const admin = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `scan_gateway_bench_${Date.now()}`;
  const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Run `fn` with at most `limit` of them in flight over `items`. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Call `fn` from `concurrency` loops for `seconds`; resolves with calls per second. */
export async function rate(seconds: number, concurrency: number, fn: (call: number) => Promise<unknown>): Promise<number> {
  let calls = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      await fn(calls++);
    }
  }));
  return calls / seconds;
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function report(title: string, rows: [string, string][]): void {
  console.log(`\n${title}`);
  for (const [name, value] of rows) console.log(`  ${name.padEnd(58)} ${value}`);
}

/** A HOSTS_FILE in `dir` with one host per loopback listener port (WinRM on a closed port); their ids in order. */
export function loopbackHostsFile(dir: string, ports: number[], closedPort: number): { path: string; ids: string[] } {
  const path = join(dir, 'hosts.json');
  const ids = ports.map(() => crypto.randomUUID());
  writeFileSync(path, JSON.stringify(ports.map((port, i) => ({ id: ids[i], name: `bench-${i}`, ipAddress: '127.0.0.1', sshPort: port, winRmPort: closedPort }))));
  return { path, ids };
}

/** The operator variables of a benchmark gateway on loopback: no rate limits, quiet logs, its own store. */
export function benchGatewayEnv(o: { dir: string; hostsPath: string; databaseUrl: string | null; secret: string; concurrency: number; maxHostIds: number }): Record<string, string> {
  return {
    RATE_LIMIT_PER_ADDRESS: '0',
    RATE_LIMIT_PER_SUBJECT: '0',
    ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}),
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(o.dir, 'db'), HOSTS_FILE: o.hostsPath, JWT_SECRET: o.secret,
    SCAN_CONCURRENCY: String(o.concurrency), MAX_HOST_IDS: String(o.maxHostIds), LOG_LEVEL: 'warn',
  };
}
