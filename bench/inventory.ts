// Inventory figures, each against a ceiling measured in the same run, in interleaved rounds (medians):
//   - the store recording a credentialed result with a snapshot of 50 users, 60 groups and 100 services
//     vs the same store recording a bare scan result (target ≤ 3×), per result, in batches of 1 and 16
//     (the runner batches results), on hosts that already have a snapshot (so each write compares with
//     the previous one and prunes to the retention, as in steady use);
//   - GraphQL: a page of 100 hosts with their users (and each user's groups) and groups (and members)
//     vs REST GET /api/v1/HostScanJob/Host?take=100 serving the same data (target ≥ 0.5×), load from
//     autocannon in its own process. The GraphQL page costs more than GRAPHQL_MAX_COST's default allows
//     (its lists are priced at their declared sizes), so the gateway here runs with a raised limit.
//   node --import tsx bench/inventory.ts [--pg] [--rounds=3] [--pages=40] [--connections=4]
// Builds dist/ first (the embedded store's worker thread runs from there).
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { InventorySnapshot } from '../src/inventory';
import { ActionFailureReason, ActionStatus } from '../src/model';
import type { ScanResult, Store } from '../src/store';
import { syntheticSnapshot } from '../test/support/inventory';
import { load, tempDir, tempDatabase, median, fmt, report } from './lib';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const ROUNDS = arg('rounds', 3);
const PAGES = arg('pages', 40);
const CONNECTIONS = arg('connections', 4);
const USE_PG = process.argv.includes('--pg');
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const ROOT = join(__dirname, '..');
const OWNER = 'bench-inventory';

const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { encoding: 'utf8' });
if (tsc.status !== 0) throw new Error(`building dist/ failed:\n${tsc.stdout}${tsc.stderr}`);
const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { openStore } = require('../dist/store') as typeof import('../src/store');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');

const HOST_SNAPSHOT: InventorySnapshot = syntheticSnapshot({ users: 50, groups: 60, services: 100, tasks: 0 });
const result = (inventory: InventorySnapshot | null): ScanResult => ({
  status: ActionStatus.Complete, description: 'Complete', failureReason: ActionFailureReason.NoError, hostConnected: true,
  ipAddress: '127.0.0.1', os: 'Debian GNU/Linux', version: '12',
  ...(inventory ? { hostKey: { fingerprint: 'SHA256:bench', algorithm: 'ssh-ed25519' }, inventory } : {}),
});

async function openBenchStore(): Promise<{ store: Store; close(): Promise<void> }> {
  if (USE_PG) {
    const db = await tempDatabase();
    if (!db) throw new Error('--pg: no PostgreSQL at 127.0.0.1:5432');
    const store = await openStore({ databaseUrl: db.url, dataDir: '' });
    return { store, close: async () => { await store.stop(); await db.drop(); } };
  }
  const tmp = tempDir('bench-inventory-');
  const store = await openStore({ databaseUrl: null, dataDir: tmp.dir });
  return { store, close: async () => { await store.stop(); tmp.remove(); } };
}

/** Schedule and claim one scan of each host (untimed), then time recording their results in batches. */
async function recordMs(store: Store, hostIds: string[], batch: number, inventory: InventorySnapshot | null): Promise<number> {
  const { jobs } = await store.jobs.schedule(hostIds, { subject: 'bench', userName: 'bench', address: null });
  const scans = jobs!.flatMap((j) => j.scans.map((s) => s.id));
  for (let claimed = 0; claimed < scans.length;) claimed += (await store.queue.claim(OWNER, 1000, 600_000)).scans.length;
  let ms = 0;
  for (let i = 0; i < scans.length; i += batch) {
    const results = scans.slice(i, i + batch).map((scanId) => ({ scanId, result: result(inventory) }));
    const t = performance.now();
    await store.queue.finish(OWNER, results);
    ms += performance.now() - t;
  }
  return ms / scans.length;
}

async function storeFigures(): Promise<[string, string][]> {
  const { store, close } = await openBenchStore();
  try {
    const hosts = Array.from({ length: 64 }, (_, i) => ({ id: randomUUID(), name: `bench-${i}`, ipAddress: '127.0.0.1' }));
    await store.hosts.upsert(hosts);
    const ids = hosts.map((h) => h.id);
    // Unmeasured: every host gets its first snapshot, and both paths warm up.
    await recordMs(store, ids, 16, HOST_SNAPSHOT);
    await recordMs(store, ids, 16, null);
    const rows: [string, string][] = [];
    for (const batch of [1, 16]) {
      const bare: number[] = [];
      const snap: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        bare.push(await recordMs(store, ids, batch, null));
        snap.push(await recordMs(store, ids, batch, HOST_SNAPSHOT));
      }
      const [b, s] = [median(bare), median(snap)];
      rows.push([`bare result, batches of ${batch} (ms per result)`, fmt(b, 2)]);
      rows.push([`result + snapshot 50/60/100, batches of ${batch} (ms per result)`, fmt(s, 2)]);
      rows.push([`  ratio snapshot / bare (target ≤ 3)`, fmt(s / b, 2)]);
    }
    return rows;
  } finally {
    await close();
  }
}

// The data REST's page carries, without its repeats: each account once with its groups, each group with
// its members by name (REST repeats the member's account there; here it is in users).
const GRAPHQL_PAGE = `{ hosts(first: 100) { nodes { id name latestScan { id os version
  users { id name displayName uid gid home shell privilege isDisabled groups { id name gid } }
  groups { id name gid members { name } } } } } }`;

async function edgeFigures(): Promise<[string, string][]> {
  const tmp = tempDir('bench-inventory-gw-');
  const db = USE_PG ? await tempDatabase() : null;
  const hosts = Array.from({ length: 100 }, (_, i) => ({ id: randomUUID(), name: `inv-${String(i).padStart(3, '0')}`, ipAddress: '127.0.0.1' }));
  const hostsFile = join(tmp.dir, 'hosts.json');
  writeFileSync(hostsFile, JSON.stringify(hosts));
  const config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(tmp.dir, 'data'), JWT_SECRET: SECRET, LOG_LEVEL: 'warn', HOSTS_FILE: hostsFile,
    GRAPHQL_MAX_COST: '10000000', ...(db ? { DATABASE_URL: db.url } : {}),
  });
  const gateway = await startGateway(config, { logger: createLogger('warn'), runner: false });
  try {
    const ids = hosts.map((h) => h.id);
    await recordMs(gateway.store, ids, 25, HOST_SNAPSHOT);
    const token = mintToken({ key: Buffer.from(SECRET), subject: 'bench', roles: ['App'], name: 'bench', ttl: '1h' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const graphql = { url: `${gateway.url}/graphql`, method: 'POST', headers, bodies: [JSON.stringify({ query: GRAPHQL_PAGE })] };
    const rest = { url: `${gateway.url}/api/v1/HostScanJob/Host?take=100`, method: 'GET', headers: { authorization: headers.authorization } };
    // Both answer the whole page before measuring (and say so).
    const [g, r] = await Promise.all([
      fetch(graphql.url, { method: 'POST', headers, body: graphql.bodies[0] }).then((x) => x.json() as Promise<any>),
      fetch(rest.url, { headers: rest.headers }).then((x) => x.json() as Promise<any>),
    ]);
    if (g.errors || g.data.hosts.nodes.filter((n: any) => n.latestScan?.users.length === 50).length !== 100) throw new Error(`GraphQL page: ${JSON.stringify(g).slice(0, 300)}`);
    if (r.length !== 100 || r.some((h: any) => h.hostScanUser.length !== 50 || h.hostScanGroup.length !== 60)) throw new Error('REST page incomplete');
    const sizes = [JSON.stringify(g).length, JSON.stringify(r).length];
    const gq: number[] = [];
    const re: number[] = [];
    // Pages are megabytes: each run makes a fixed number of requests and counts pages per second of it.
    const run = { connections: CONNECTIONS, amount: PAGES, timeout: 120 };
    await load({ ...rest, ...run, amount: CONNECTIONS });
    await load({ ...graphql, ...run, amount: CONNECTIONS });
    for (let round = 0; round < ROUNDS; round++) {
      const first = round % 2 === 0 ? [rest, re] as const : [graphql, gq] as const;
      const second = round % 2 === 0 ? [graphql, gq] as const : [rest, re] as const;
      for (const [job, into] of [first, second]) {
        const out = await load({ ...job, ...run });
        if (out.non2xx || out.errors) throw new Error(`load run failed: ${JSON.stringify(out)}`);
        into.push(out.rps);
      }
    }
    return [
      ['REST GET /Host?take=100 (pages/s)', fmt(median(re), 1)],
      ['GraphQL page of 100 hosts, users+groups (pages/s)', fmt(median(gq), 1)],
      ['  ratio GraphQL / REST (target ≥ 0.5)', fmt(median(gq) / median(re), 2)],
      ['response bytes GraphQL / REST', `${fmt(sizes[0]!)} / ${fmt(sizes[1]!)}`],
    ];
  } finally {
    await gateway.stop();
    await db?.drop();
    tmp.remove();
  }
}

async function main(): Promise<void> {
  console.log(`bench/inventory.ts: ${USE_PG ? 'PostgreSQL' : 'embedded'} store, ${ROUNDS} rounds; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  report('Recording a scan result (store only)', await storeFigures());
  report(`A page of 100 scanned hosts (${CONNECTIONS} connections, ${PAGES} pages per run)`, await edgeFigures());
  console.log(`\nload average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
