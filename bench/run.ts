// `npm run bench` (add `-- --pg` for the PostgreSQL figures too): every benchmark in turn, after a build.
// Figures are ratios against ceilings measured in the same run; see bench/RESULTS.md for recorded results.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const pg = process.argv.includes('--pg');
const steps: [string, ...string[]][] = [
  ['jwt.ts'],
  ['coldstart.ts'],
  ['http.ts'],
  ['fanout.ts', '--subscribers', '10000', '--events', '20'],
  ['scan.ts', '1000', '32'],
  ['scan.ts', '2000', '256'],
  ['fairness.ts'],
  ...(pg ? [['http.ts', '--pg'], ['fanout.ts', '--subscribers', '10000', '--events', '20', '--pg'], ['scan.ts', '2000', '256', '--pg'], ['fairness.ts', '--pg'], ['cross-instance.ts']] as [string, ...string[]][] : []),
];
for (const [file, ...args] of steps) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(__dirname, file), ...args], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
