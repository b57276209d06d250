import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { mintToken } from '../auth';
import { loadConfig } from '../config';
import { DATA_DIR_IN_USE } from '../store/dir-lock';
import { backupDataDir } from '../store/offline-backup';
import { verifyBackup } from '../store/restore';
import { dataDirOf, run } from './args';

// `npm run backup -- --out FILE [--gateway URL] [--data-dir DIR]`
// A running gateway holds DATA_DIR's lock, so it takes the backup itself: with --gateway this asks it
// (GET /api/v1/backup, an Admin token from GATEWAY_TOKEN, or minted with JWT_SECRET). Without, the store
// in DATA_DIR is opened here, which works only while no gateway runs on it. Either way the file is
// verified (opened in memory, checksums compared) before it is written.

const USAGE = 'usage: npm run backup -- --out FILE [--gateway http://HOST:PORT] [--data-dir DIR]';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, gateway: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  if (existsSync(values.out)) throw new Error(`${values.out} exists; choose another name (a backup is never overwritten).`);
  const file = values.gateway ? await fromGateway(values.gateway) : await fromDataDir(dataDirOf(values['data-dir']));
  const manifest = await verifyBackup(file);
  const partial = `${values.out}.partial`;
  try {
    writeFileSync(partial, file, { flag: 'wx' });
    renameSync(partial, values.out);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  const rows = Object.entries(manifest.tables).map(([name, t]) => `${name} ${t.rows}`).join(', ');
  process.stdout.write(`wrote ${values.out} (${file.length} bytes, migration ${manifest.migrations.at(-1)}, verified): ${rows}\n`);
}

async function fromDataDir(dataDir: string): Promise<Buffer> {
  try {
    return await backupDataDir(dataDir);
  } catch (err) {
    if ((err as { code?: string }).code !== DATA_DIR_IN_USE) throw err;
    throw new Error(`A gateway is running on DATA_DIR ${dataDir}; ask it for the backup: npm run backup -- --out FILE --gateway http://HOST:PORT (with GATEWAY_TOKEN, or JWT_SECRET, set).`);
  }
}

async function fromGateway(base: string): Promise<Buffer> {
  const response = await fetch(new URL('/api/v1/backup', base), { headers: { authorization: `Bearer ${adminToken()}` } });
  const body = Buffer.from(await response.arrayBuffer());
  if (!response.ok) {
    let detail = body.toString('utf8').slice(0, 500);
    try {
      const problem = JSON.parse(detail) as { detail?: string; title?: string };
      detail = problem.detail ?? problem.title ?? detail;
    } catch {
      // not ProblemDetails: show the text
    }
    throw new Error(`The gateway refused the backup (${response.status}): ${detail}`);
  }
  return body;
}

function adminToken(): string {
  if (process.env.GATEWAY_TOKEN) return process.env.GATEWAY_TOKEN;
  const config = loadConfig(process.env);
  if (!config.jwtSecret) throw new Error('Set GATEWAY_TOKEN to an Admin token, or JWT_SECRET so that one can be minted.');
  return mintToken({ key: config.jwtSecret, subject: 'backup-cli', roles: ['Admin'], name: 'npm run backup', ttl: '5m', issuer: config.jwtIssuer, audience: config.jwtAudience });
}

run(main, () => [process.env.GATEWAY_TOKEN ?? '']);
