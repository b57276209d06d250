import 'reflect-metadata';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Caller } from '../audit';
import { loadConfig } from '../config';
import { credentialCursor, CredentialService } from '../credential-service';
import { isAppError } from '../errors';
import { credentialKeyFor, devKeyPath, parseKeySetting, SecretKey } from '../secrets';
import { CredentialKind, openStore, type Store } from '../store';

// `npm run credentials -- list | add | remove | rotate-key`, against the configured store (DATABASE_URL,
// else DATA_DIR: stop the gateway first, it holds the embedded store). Secrets come from standard input or
// a prompt that does not echo, never from the command line (argv is visible to every user of the machine).
// An entry point like main.ts, so it may read process.env.

const USAGE = `usage:
  npm run credentials -- list
  npm run credentials -- add --name NAME --username USER --kind password            (password: stdin or prompt)
  npm run credentials -- add --name NAME --username USER --kind private-key [--key-file FILE] [--passphrase]
      (the key from FILE, else stdin; --passphrase: its passphrase from stdin or a prompt)
  npm run credentials -- remove NAME|ID
  npm run credentials -- rotate-key [--generate FILE]
      (the new key, base64 of 32 bytes, from stdin or a prompt; or a fresh one written to FILE, mode 0600)`;

class UsageError extends Error {}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      username: { type: 'string' },
      kind: { type: 'string' },
      'key-file': { type: 'string' },
      passphrase: { type: 'boolean' },
      generate: { type: 'string' },
      first: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) return void process.stdout.write(`${USAGE}\n`);
  const config = loadConfig(process.env);
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const key = credentialKeyFor({ configured: config.credentialsKey, production: config.production, dataDir: config.dataDir, logger });
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
  try {
    const service = new CredentialService({ store, key });
    const caller: Caller = { subject: `cli:${userInfo().username}`, userName: userInfo().username, roles: new Set(['Admin']), expiresAt: Number.MAX_SAFE_INTEGER };
    switch (command) {
      case 'list':
        return await list(service, caller);
      case 'add':
        return await add(service, caller, values);
      case 'remove': {
        if (rest.length !== 1) throw new UsageError('remove takes one credential name or id');
        const id = await idOf(store, rest[0]!);
        await service.remove(caller, { id });
        return void process.stdout.write(`removed ${id}\n`);
      }
      case 'rotate-key': {
        const next = values.generate ? generateInto(values.generate) : keyFrom(await secretInput('New credentials key (base64 of 32 bytes): '));
        // A development gateway reads its key from DATA_DIR: that file gets the new key (written aside
        // first, so the key is on disk before any record is sealed with it).
        const devFile = config.credentialsKey || config.production ? null : devKeyPath(config.dataDir);
        if (devFile) writeFileSync(`${devFile}.next`, `${next.exportBase64()}\n`, { mode: 0o600 });
        const n = await service.rotateKey(caller, next);
        if (devFile) renameSync(`${devFile}.next`, devFile);
        const counted = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
        return void process.stdout.write(`re-sealed ${counted(n.credentials, 'credential')}, ${counted(n.totpSeeds, 'TOTP seed')} and ${counted(n.signingKeys, 'token signing key')} with key ${next.keyId}; ${devFile
          ? `${devFile} now holds it`
          : 'set CREDENTIALS_KEY to the new key and restart every gateway'}\n`);
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command).slice(0, 40)}`);
    }
  } finally {
    await store.stop();
  }
}

async function list(service: CredentialService, caller: Caller): Promise<void> {
  const rows: string[][] = [['NAME', 'KIND', 'USERNAME', 'HOSTS', 'UPDATED', 'ID']];
  let after: string | null = null;
  for (;;) {
    const page = await service.list(caller, { first: 500, after });
    for (const c of page.items) rows.push([c.name, CredentialKind[c.kind], c.username, String(c.hostCount), c.updatedAt.toISOString(), c.id]);
    if (!page.hasMore) break;
    after = credentialCursor(page.items.at(-1)!);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
}

async function add(service: CredentialService, caller: Caller, v: { name?: string; username?: string; kind?: string; 'key-file'?: string; passphrase?: boolean }): Promise<void> {
  if (!v.name || !v.username || !v.kind) throw new UsageError('add needs --name, --username and --kind');
  let input;
  if (v.kind === 'password') {
    if (v['key-file'] || v.passphrase) throw new UsageError('--key-file and --passphrase are for --kind private-key');
    input = { kind: CredentialKind.SshPassword, password: await secretInput('Password: ') };
  } else if (v.kind === 'private-key') {
    const privateKey = v['key-file'] ? readFileSync(v['key-file'], 'utf8') : await secretInput('Private key (end with Ctrl-D): ', { multiline: true });
    if (!v['key-file'] && v.passphrase) throw new UsageError('with --passphrase, give the key with --key-file (standard input carries the passphrase)');
    input = { kind: CredentialKind.SshPrivateKey, privateKey, ...(v.passphrase ? { passphrase: await secretInput('Passphrase: ') } : {}) };
  } else {
    throw new UsageError('--kind is password or private-key');
  }
  const c = await service.create(caller, { name: v.name, username: v.username, ...input });
  process.stdout.write(`added ${c.id} ${c.name}\n`);
}

async function idOf(store: Store, ref: string): Promise<string> {
  const id = (await store.credentials.resolve([ref])).get(ref);
  if (!id) throw new UsageError('no credential has that name or id');
  return id;
}

function generateInto(path: string): SecretKey {
  const key = SecretKey.generate();
  writeFileSync(path, `${key.exportBase64()}\n`, { mode: 0o600, flag: 'wx' });
  process.stderr.write(`wrote a new key to ${path} (mode 0600)\n`);
  return key;
}

function keyFrom(text: string): SecretKey {
  const bytes = parseKeySetting(text, () => Buffer.alloc(0));
  if (!bytes) throw new UsageError('the new key must be the base64 of 32 bytes (openssl rand -base64 32)');
  return new SecretKey(bytes);
}

/** A secret from standard input (all of it, less one final newline) or, on a terminal, a prompt that does not echo. */
async function secretInput(question: string, o: { multiline?: boolean } = {}): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  let muted = false;
  const output = new Writable({ write: (chunk, _enc, done) => (muted || process.stderr.write(chunk), done()) });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  process.stderr.write(question);
  muted = true;
  try {
    if (!o.multiline) return await new Promise<string>((resolve) => rl.question('', resolve));
    const lines: string[] = [];
    for await (const line of rl) lines.push(line);
    return lines.join('\n') + '\n';
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) err = new UsageError((err as Error).message);
    const message = err instanceof UsageError ? `${err.message}\n${USAGE}` : isAppError(err) ? `${err.message}${err.fieldErrors ? ` ${JSON.stringify(err.fieldErrors)}` : ''}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`${message}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
