import { parseArgs } from 'node:util';
import { copyStoreToPostgres } from '../store/copy-store';
import { dataDirOf, redact, run } from './args';

// `npm run migrate-store -- --to postgres://… [--data-dir DIR] [--batch 5000]`
// Copies the embedded store into PostgreSQL, verified by rows and checksums per table; safe to re-run.
// Stop the gateway first (its lock refuses this), then start it again with DATABASE_URL.

const USAGE = 'usage: npm run migrate-store -- --to postgres://USER@HOST:PORT/DB [--data-dir DIR] [--batch ROWS]';
let url = '';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { to: { type: 'string' }, 'data-dir': { type: 'string' }, batch: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (!values.to || !/^postgres(ql)?:\/\//.test(values.to)) throw new Error(`--to must be a postgres:// URL\n${USAGE}`);
  url = values.to;
  const batchRows = values.batch === undefined ? undefined : Number(values.batch);
  if (batchRows !== undefined && !(Number.isInteger(batchRows) && batchRows >= 1 && batchRows <= 100_000)) throw new Error(`--batch must be a whole number from 1 to 100000\n${USAGE}`);
  const dataDir = dataDirOf(values['data-dir']);
  process.stderr.write(`copying the embedded store in ${dataDir} to ${redact(url)}\n`);
  const report = await copyStoreToPostgres(dataDir, url, {
    batchRows,
    progress: (table, rows) => process.stderr.write(`  ${table}: ${rows} rows\n`),
  });
  for (const [name, t] of Object.entries(report.tables)) process.stdout.write(`${name}\t${t.rows}\t${t.checksum}\n`);
  process.stdout.write(report.alreadyCopied ? 'the target already held this store: nothing written\n' : 'copied and verified: every table has the same rows and checksum in both stores\n');
}

function passwordOf(text: string): string[] {
  try {
    const { password } = new URL(text);
    return [password, decodeURIComponent(password)];
  } catch {
    return [];
  }
}

run(main, () => passwordOf(url));
