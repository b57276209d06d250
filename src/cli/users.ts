import 'reflect-metadata';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { AccountService } from '../accounts';
import { createSealer } from '../auth-secrets';
import pino from 'pino';
import { credentialKeyFor } from '../secrets';
import type { Caller } from '../audit';
import { loadConfig } from '../config';
import { isAppError } from '../errors';
import { openStore } from '../store';

// `npm run users -- add alice --role Admin [--role App] [--name "Alice A."]`: the first Admin, before
// anyone can sign in to create others. The password comes from a prompt (no echo) or from stdin, never
// from argv, which other local users can read in the process list. It opens the store itself: with the
// embedded store, stop the gateway first (the data directory is locked while it runs).

const USAGE = 'usage: npm run users -- add LOGIN --role Admin|App [--role …] [--name TEXT]   (password from the prompt or stdin)';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { role: { type: 'string', multiple: true }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const [command, login] = positionals;
  if (command !== 'add' || !login || positionals.length !== 2) throw new Error(USAGE);
  const config = loadConfig(process.env);
  const password = await readPassword();
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const caller: Caller = { subject: `cli:${userInfo().username}`, userName: 'users CLI', roles: new Set(['Admin']), expiresAt: Infinity };
    const key = credentialKeyFor({ configured: config.credentialsKey, production: config.production, dataDir: config.dataDir, logger: pino({ level: 'warn' }, pino.destination(2)) });
    const accounts = new AccountService({ store, sealer: createSealer(key), onRevoked: () => {} });
    const user = await accounts.createUser(caller, { login, password, roles: values.role ?? [], displayName: values.name ?? null });
    process.stdout.write(`created user ${user.login} (${user.id}) with roles ${user.roles.join(', ') || '(none)'}; TOTP is enrolled at first sign-in\n`);
  } finally {
    await store.stop();
  }
}

/** A prompt without echo on a terminal; otherwise the first line of stdin. */
async function readPassword(): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    let text = '';
    for await (const chunk of input) text += String(chunk);
    return text.split(/\r?\n/)[0] ?? '';
  }
  process.stderr.write('Password: ');
  input.setRawMode(true);
  input.setEncoding('utf8');
  let text = '';
  try {
    for await (const chunk of input) {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return text;
        if (ch === '\u0003') throw new Error('cancelled');
        if (ch === '\u007f') text = text.slice(0, -1);
        else text += ch;
      }
    }
    return text;
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stderr.write('\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${isAppError(err) ? `${err.message}${err.fieldErrors ? ` ${JSON.stringify(err.fieldErrors)}` : ''}` : err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
