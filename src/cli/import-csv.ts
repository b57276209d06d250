import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readHostCsv } from '../csv-import';
import type { HostScanJobResponse } from '../host-requests';

// `npm run import-csv -- --url http://127.0.0.1:6500 --file hosts.csv [--import-good] [--chunk 1000]`
// with the token in SCAN_GATEWAY_TOKEN (or --token). Reads hosts from CSV, has the gateway check every
// row (ValidateImportedCSV), and imports them with POST /api/v1/HostScanJob, one job per chunk. While any
// row is bad nothing is imported, unless --import-good asks to import the rows that are fine. An entry
// point like main.ts, so it may read process.env.

const USAGE = 'usage: npm run import-csv -- --url URL --file FILE.csv [--import-good] [--chunk N]   (token in SCAN_GATEWAY_TOKEN or --token)';
const ERROR_FIELDS = ['dnsHostNameError', 'ipAddressError', 'credentialNameError', 'platformNameError'] as const;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      file: { type: 'string' },
      token: { type: 'string' },
      'import-good': { type: 'boolean', default: false },
      chunk: { type: 'string', default: '1000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`), 0;
  const token = values.token ?? process.env.SCAN_GATEWAY_TOKEN;
  const chunk = Number(values.chunk);
  if (!values.url || !values.file || !token || !Number.isInteger(chunk) || chunk < 1) throw new Error(USAGE);
  const api = (path: string, body: unknown) => post(`${values.url!.replace(/\/$/, '')}/api/v1/HostScanJob${path}`, token, body);

  const { rows, problems } = readHostCsv(readFileSync(values.file, 'utf8'));
  const typed = new Set(problems.map((p) => p.line));
  const sendable = rows.filter((r) => !typed.has(r.line));
  for (const part of chunks(sendable, chunk)) {
    const answers = (await api('/ValidateImportedCSV', part.map((r) => compact(r.request)))).json as HostScanJobResponse[];
    answers.forEach((answer, i) => {
      for (const key of ERROR_FIELDS) if (answer[key]) problems.push({ line: part[i]!.line, field: key.replace(/Error$/, ''), message: answer[key]! });
    });
  }
  const bad = new Set(problems.map((p) => p.line));
  for (const p of problems.sort((a, b) => a.line - b.line)) process.stderr.write(`line ${p.line}${p.field ? `, ${p.field}` : ''}: ${p.message}\n`);
  const good = rows.filter((r) => !bad.has(r.line));
  if (problems.length > 0 && (!values['import-good'] || bad.has(1))) {
    process.stderr.write(`${bad.size} bad row(s); nothing imported${bad.has(1) ? '' : ' (--import-good imports the other rows)'}.\n`);
    return 1;
  }
  let hosts = 0;
  for (const part of chunks(good, chunk)) {
    const res = await api('', part.map((r) => compact(r.request)));
    const job = res.json as { id: string };
    hosts += part.length;
    process.stdout.write(`job ${job.id} batch ${res.headers.get('x-hostscan-batch-id')}: ${part.length} host(s), lines ${part[0]!.line}-${part.at(-1)!.line}\n`);
  }
  process.stdout.write(`imported ${hosts} host(s)${bad.size > 0 ? `, skipped ${bad.size} bad row(s)` : ''}.\n`);
  return bad.size > 0 ? 2 : 0;
}

async function post(url: string, token: string, body: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 2000)}`);
  return { headers: res.headers, json: JSON.parse(text) as unknown };
}

// The gateway's default BODY_LIMIT_BYTES is 100 KiB: a chunk stays below it whatever its row count.
const MAX_BODY_BYTES = 96_000;

/** Rows in order, at most `size` and MAX_BODY_BYTES of JSON per chunk. */
function chunks<T extends { request: object }>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 2;
  for (const item of items) {
    const length = JSON.stringify(compact(item.request)).length + 1;
    if (current.length > 0 && (current.length >= size || bytes + length > MAX_BODY_BYTES)) {
      out.push(current);
      current = [];
      bytes = 2;
    }
    current.push(item);
    bytes += length;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A request without its empty fields: what the gateway reads the same, in fewer bytes. */
const compact = (request: object) => Object.fromEntries(Object.entries(request).filter(([, v]) => v !== null));

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
