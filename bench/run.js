'use strict';
// `npm run bench` (add `-- --pg` for the PostgreSQL figures too): every benchmark in turn, after a build.
// Figures are ratios against ceilings measured in the same run; see bench/RESULTS.md for recorded results.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const pg = process.argv.includes('--pg');
const steps = [
  ['jwt.js'],
  ['coldstart.js'],
  ['http.js'],
  ['fanout.js', '--subscribers', '10000', '--events', '20'],
  ['scan.js', '1000', '32'],
  ['scan.js', '2000', '256'],
  ...(pg ? [['http.js', '--pg'], ['fanout.js', '--subscribers', '10000', '--events', '20', '--pg'], ['scan.js', '2000', '256', '--pg']] : []),
];
for (const [file, ...args] of steps) {
  const r = spawnSync(process.execPath, ['--expose-gc', join(__dirname, file), ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
