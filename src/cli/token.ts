import { parseArgs } from 'node:util';
import { mintToken } from '../auth';
import { ConfigError, loadConfig } from '../config';

// `npm run token -- --role Admin [--role App] [--sub NAME] [--name "Display Name"] [--ttl 15m]`
// Mints an HS256 token with JWT_SECRET (and JWT_ISSUER / JWT_AUDIENCE when set). An entry point like
// main.ts, so it may read process.env.

const USAGE = 'usage: npm run token -- --role Admin|App [--role …] [--sub NAME] [--name TEXT] [--ttl 15m]';

function main(): void {
  const { values } = parseArgs({
    options: {
      role: { type: 'string', multiple: true },
      sub: { type: 'string' },
      name: { type: 'string' },
      ttl: { type: 'string', default: '15m' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const config = loadConfig(process.env);
  if (!config.jwtSecret) throw new ConfigError('JWT_SECRET', 'is required to mint tokens (at least 32 bytes).');
  const roles = values.role ?? [];
  if (roles.length === 0) throw new Error(`--role is required\n${USAGE}`);
  if (!/^\d+[smhd]?$/.test(values.ttl!)) throw new Error(`--ttl must look like 900, 30s, 15m, 12h or 7d\n${USAGE}`);
  const ttl = /^\d+$/.test(values.ttl!) ? Number(values.ttl) : values.ttl!;
  const seconds = Number(/^\d+/.exec(values.ttl!)![0]) * ({ s: 1, m: 60, h: 3600, d: 86_400 }[values.ttl!.slice(-1)] ?? 1);
  if (seconds > config.jwtMaxLifetimeS) throw new Error(`--ttl ${values.ttl} is longer than JWT_MAX_LIFETIME_S (${config.jwtMaxLifetimeS} s) lets the gateway accept`);
  const subject = values.sub ?? roles[0]!.toLowerCase();
  const token = mintToken({
    key: config.jwtSecret,
    subject,
    roles,
    ttl,
    ...(values.name ? { name: values.name } : {}),
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
  });
  process.stdout.write(`${token}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
