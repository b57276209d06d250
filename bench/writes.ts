// Writes against the database's own limit (issue 18), on PostgreSQL:
//   REST ByHostIdMultiple with one id (autocannon, 50 connections, its own process)
//   vs pgbench (50 clients) replaying the statements our store issued for one such request, captured
//   from the pg driver while the gateway served it: same statements, same order, one transaction each.
// The replay gets fresh ids per transaction from one extra statement before BEGIN (a host not yet
// scheduled and new uuids, \gset), so the ceiling it measures is a little below the statements' own.
//   npm run build && node --import tsx bench/writes.ts [--duration 8] [--rounds 3]
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { CONNECTIONS, httpBenchOptions, startBenchGateway } from './gateway';
import { fmt, load, median, report, tempDir } from './lib';

const { sqlOf } = require('../dist/store') as typeof import('../src/store');
const { duration: DURATION, rounds: ROUNDS } = httpBenchOptions();
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

interface Captured {
  text: string;
  values: unknown[];
}

/** The statements one request makes on its connection, from BEGIN to COMMIT. */
async function capture(request: () => Promise<void>): Promise<Captured[]> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const seen = new Map<unknown, Captured[]>();
  proto.query = function (this: unknown, text: unknown, values?: unknown, ...rest: unknown[]) {
    const sql = typeof text === 'string' ? text : (text as { text?: string })?.text;
    if (sql) seen.set(this, [...(seen.get(this) ?? []), { text: sql, values: Array.isArray(values) ? values : [] }]);
    return original.call(this, text, values, ...rest);
  };
  try {
    await request();
  } finally {
    proto.query = original;
  }
  const transactions = [...seen.values()].filter((qs) => qs[0]?.text === 'BEGIN' && qs.at(-1)?.text === 'COMMIT');
  if (transactions.length !== 1) throw new Error(`expected one transaction, saw ${transactions.length}`);
  return transactions[0]!;
}

/** A pgbench script of the captured statements, each parameter a literal; uuids become per-transaction variables. */
function pgbenchScript(statements: Captured[], hostId: string): string {
  const vars = new Map<string, string>([[hostId, 'host']]);
  const variable = (uuid: string) => `:${vars.get(uuid) ?? vars.set(uuid, `u${vars.size}`).get(uuid)!}`;
  const withVars = (s: string) => s.replace(UUID, variable);
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const element = (v: unknown) => (v === null ? 'NULL' : `"${withVars(String(v)).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  const literal = (v: unknown): string =>
    v === null || v === undefined ? 'NULL'
      : Array.isArray(v) ? quote(`{${v.map(element).join(',')}}`)
        : typeof v === 'number' || typeof v === 'boolean' ? String(v)
          : quote(withVars(String(v)));
  const body = statements.map(({ text, values }) =>
    `${text.replace(/\$(\d+)/g, (_, n: string) => literal(values[Number(n) - 1])).replace(/\s+/g, ' ').trim()};`);
  const fresh = [...vars.values()].filter((v) => v !== 'host').map((v) => `gen_random_uuid() AS ${v}`);
  return [`SELECT id AS host, ${fresh.join(', ')} FROM bench_hosts WHERE k = (SELECT nextval('bench_next')) \\gset`, ...body, ''].join('\n');
}

function pgbench(url: string, script: string, seconds: number): number {
  const run = spawnSync('pgbench', ['-n', '-M', 'simple', '-c', String(CONNECTIONS), '-j', '2', '-T', String(seconds), '-f', script, url], { encoding: 'utf8' });
  if (run.error) throw new Error(`pgbench: ${run.error.message} (Debian's postgresql-client has it)`);
  const tps = /tps = ([\d.]+)/.exec(run.stdout)?.[1];
  const failed = Number(/number of failed transactions: (\d+)/.exec(run.stdout)?.[1] ?? 0);
  if (run.status !== 0 || !tps || failed > 0) throw new Error(`pgbench failed:\n${run.stdout}${run.stderr}`);
  return Number(tps);
}

async function main(): Promise<void> {
  console.log(`bench/writes.ts: PostgreSQL, ${ROUNDS} rounds of ${DURATION} s; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const { gateway, headers, databaseUrl, stop } = await startBenchGateway({ prefix: 'writes-bench-', pg: true });
  const tmp = tempDir('writes-bench-');
  try {
    const sql = sqlOf(gateway.store);
    // Enough never-scheduled hosts for every run of either side; pgbench takes its own in order.
    const perRun = 40_000;
    await sql.query(`INSERT INTO hosts (id, name, ip_address) SELECT gen_random_uuid(), 'w-' || g, '127.0.0.1' FROM generate_series(1, $1::int) g`, [3 * perRun * (ROUNDS + 1) + 1]);
    await sql.query(`CREATE TABLE bench_hosts (k bigint PRIMARY KEY, id uuid NOT NULL)`);
    await sql.query(`CREATE SEQUENCE bench_next`);
    const ids = (await sql.query<{ id: string }>(`SELECT id FROM hosts WHERE name LIKE 'w-%' ORDER BY name`)).map((r) => r.id);
    const take = (n: number) => ids.splice(0, n);
    await sql.query(`INSERT INTO bench_hosts SELECT n, id FROM unnest($1::uuid[]) WITH ORDINALITY AS v(id, n)`, [take(2 * perRun * (ROUNDS + 1))]);

    const [first] = take(1);
    const statements = await capture(async () => {
      const res = await fetch(`${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, { method: 'POST', headers, body: JSON.stringify([first]) });
      if (res.status !== 200) throw new Error(`schedule: ${res.status} ${await res.text()}`);
    });
    const script = join(tmp.dir, 'schedule.sql');
    writeFileSync(script, pgbenchScript(statements, first!));
    // Diagnostic: the same without its NOTIFY, which takes a database-wide lock held through commit.
    const quiet = join(tmp.dir, 'schedule-without-notify.sql');
    writeFileSync(quiet, pgbenchScript(statements.filter((q) => !/pg_notify/.test(q.text)), first!));

    const rest: number[] = [];
    const replay: number[] = [];
    const withoutNotify: number[] = [];
    for (let round = 0; round <= ROUNDS; round++) {
      const seconds = round === 0 ? 2 : DURATION;
      const r = await load({
        url: `${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, method: 'POST', connections: CONNECTIONS, duration: seconds, headers,
        bodies: take(perRun).map((id) => JSON.stringify([id])),
      });
      if (r.non2xx || r.errors) throw new Error(`REST run failed: ${JSON.stringify(r)}`);
      const p = pgbench(databaseUrl!, script, seconds);
      const q = pgbench(databaseUrl!, quiet, seconds);
      if (round > 0) {
        rest.push(r.rps);
        replay.push(p);
        withoutNotify.push(q);
      }
    }
    report('Scheduling one host (50 connections)', [
      ['statements per schedule (BEGIN … COMMIT)', String(statements.length)],
      ['pgbench replaying them (transactions/s)', `${fmt(median(replay))} (rounds ${replay.map((x) => fmt(x)).join(', ')})`],
      ['REST ByHostIdMultiple, 1 id (req/s)', `${fmt(median(rest))} (rounds ${rest.map((x) => fmt(x)).join(', ')})`],
      ['  ratio REST / replay (target ≥ 0.5)', fmt(median(rest) / median(replay), 2)],
      ['pgbench replaying them without the NOTIFY (diagnostic)', `${fmt(median(withoutNotify))} (rounds ${withoutNotify.map((x) => fmt(x)).join(', ')})`],
    ]);
    console.log(`\nthe replayed script:\n${pgbenchScript(statements, first!)}`);
  } finally {
    await stop();
    tmp.remove();
    console.log(`\nload average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
