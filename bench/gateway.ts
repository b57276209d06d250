// A gateway started in the benchmark's own process (from dist/), with an Admin token and the headers
// every request sends; rate limits off, the runner off unless asked.
import 'reflect-metadata';
import { join } from 'node:path';
import { tempDatabase, tempDir } from './lib';

const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');

const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';

export async function startBenchGateway(o: { prefix: string; pg: boolean }) {
  const data = tempDir(o.prefix);
  const db = o.pg ? await tempDatabase() : null;
  if (o.pg && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  const config = loadConfig({
    RATE_LIMIT_PER_ADDRESS: '0',
    RATE_LIMIT_PER_SUBJECT: '0',
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(data.dir, 'db'), JWT_SECRET: SECRET, LOG_LEVEL: 'warn',
    ...(db ? { DATABASE_URL: db.url } : {}),
  });
  const gateway = await startGateway(config, { logger: createLogger('warn'), runner: false });
  const token = mintToken({ key: Buffer.from(SECRET), subject: 'bench', roles: ['Admin'], ttl: '1h' });
  return {
    gateway,
    token,
    databaseUrl: db?.url ?? null,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } as Record<string, string>,
    async stop() {
      await gateway.stop();
      await db?.drop();
      data.remove();
    },
  };
}

/** The options the HTTP benchmarks share: `--pg`, `--duration S`, `--rounds N`. */
export function httpBenchOptions(argv = process.argv.slice(2)) {
  return {
    pg: argv.includes('--pg'),
    duration: Number(argv[argv.indexOf('--duration') + 1]) || 5,
    rounds: Number(argv[argv.indexOf('--rounds') + 1]) || 3,
  };
}

export const CONNECTIONS = 50;
export const CREATOR = { subject: 'bench', userName: 'bench', address: '127.0.0.1' };
/** A job's status with every host's, as GraphQL clients ask for it. */
export const STATUS_FIELDS = 'id status statusDescription hostScanHostStatus { hostScanHostId hostId name dnsHostName os ipAddress version status statusDescription failureReason }';
