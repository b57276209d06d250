import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { restoreBackup } from '../store/restore';
import { dataDirOf, run } from './args';

// `npm run restore -- FILE [--data-dir DIR] [--force]`
// Verifies the backup whole (format, migrations, checksums) before touching DATA_DIR; refuses a data
// directory a gateway is running on, and one that is not empty unless --force.

const USAGE = 'usage: npm run restore -- FILE [--data-dir DIR] [--force]';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'data-dir': { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const [file, ...extra] = positionals;
  if (!file || extra.length) throw new Error(`one backup FILE is required\n${USAGE}`);
  if (!existsSync(file)) throw new Error(`${file}: no such file.`);
  const dataDir = dataDirOf(values['data-dir']);
  const manifest = await restoreBackup(readFileSync(file), dataDir, { force: values.force ?? false });
  process.stdout.write(`restored ${file} (taken ${manifest.createdAt}, migration ${manifest.migrations.at(-1)}) into ${dataDir}\n`);
}

run(main);
