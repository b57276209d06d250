'use strict';
// Shared helpers for the benchmarks: child processes, temp data, timing and output.
const { fork } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

/** Fork a benchmark helper and wait for its first message. */
function forkHelper(file, args = []) {
  const child = fork(join(__dirname, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
  return { child, first };
}

function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
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

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function report(rows) {
  console.log('');
  for (const [name, value] of rows) console.log(`${name.padEnd(44)} ${value}`);
  console.log('');
}

module.exports = { forkHelper, tempDir, pool, fmt, report };
