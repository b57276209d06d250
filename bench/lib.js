'use strict';
// Shared helpers for the benchmarks: child processes, load runs, temp data, timing and output.
const { fork } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const pg = require('pg');

/** Fork a benchmark helper and wait for its first message. */
function forkHelper(file, args = [], execArgv = []) {
  const child = fork(join(__dirname, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const first = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
  return { child, first };
}

/** Run autocannon in its own process against `url`; resolves with { rps, p50, p99, non2xx, errors }. */
async function load(job) {
  if (job.warmup) {
    // A short unmeasured run first, so JIT warm-up and cold caches are not part of the figure.
    const warm = Math.min(200, job.bodies ? Math.floor(job.bodies.length / 10) : 200);
    await load({ ...job, warmup: false, duration: 1, bodies: job.bodies?.slice(0, warm) });
    if (job.bodies) job = { ...job, bodies: job.bodies.slice(warm) };
  }
  const { child } = forkHelper('load-child.js');
  const done = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
  });
  child.send(job);
  const result = await done;
  child.kill();
  return result;
}

function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh PostgreSQL database on the machine's server, or null when there is none. */
async function tempDatabase() {
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
async function pool(items, limit, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Call `fn` from `concurrency` loops for `seconds`; resolves with calls per second. */
async function rate(seconds, concurrency, fn) {
  let calls = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      await fn(calls++);
    }
  }));
  return calls / seconds;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function report(title, rows) {
  console.log(`\n${title}`);
  for (const [name, value] of rows) console.log(`  ${name.padEnd(58)} ${value}`);
}

module.exports = { forkHelper, load, tempDir, tempDatabase, pool, rate, median, fmt, report };
