'use strict';
// Scans of N loopback SSH listeners through the whole gateway (REST schedule → runner → scanner → store),
// against a bare concurrent banner grab of the same listeners at the same concurrency, in the same run.
//   npm run build && node bench/scan.js [count] [concurrency]   (the gateway runs with SCAN_CONCURRENCY = concurrency)
require('reflect-metadata');
const net = require('node:net');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { forkHelper, tempDir, tempDatabase, pool, fmt, report } = require('./lib');
const { loadConfig } = require('../dist/config');
const { startGateway } = require('../dist/gateway');
const { mintToken } = require('../dist/auth');
const { createLogger } = require('../dist/logger');
const { createProbeScanner } = require('../dist/scanner/probe');

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const COUNT = Number(positional[0] ?? 1000);
const CONCURRENCY = Number(positional[1] ?? 32);
const USE_PG = process.argv.includes('--pg');
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';

function grab(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
      if (data.includes('\n')) {
        socket.destroy();
        resolve(data.slice(0, data.indexOf('\n')));
      }
    });
    socket.on('error', reject);
  });
}

async function ceiling(ports) {
  const started = performance.now();
  await pool(ports, CONCURRENCY, grab);
  return COUNT / ((performance.now() - started) / 1000);
}

/** The gateway's own scanner (SSH and WinRM probed at once), without the store or the runner. */
async function scannerRate(ports, closedPort) {
  const scanner = createProbeScanner();
  const started = performance.now();
  await pool(ports, CONCURRENCY, async (port) => {
    const outcome = await scanner.scan({ name: 'x', dnsHostName: null, ipAddress: '127.0.0.1', sshPort: port, winRmPort: closedPort }, new AbortController().signal);
    if (!outcome.ok) throw new Error(outcome.description);
  });
  return COUNT / ((performance.now() - started) / 1000);
}

/** The store alone: claim and record results for COUNT scans in batches of CONCURRENCY, no network. */
async function storeRate() {
  const data = tempDir('scan-store-');
  const db = USE_PG ? await tempDatabase() : null;
  if (USE_PG && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  const { openStore } = require('../dist/store');
  const store = await openStore({ databaseUrl: db?.url ?? null, dataDir: join(data.dir, 'db') });
  const hosts = (await store.hosts.upsert(Array.from({ length: COUNT }, (_, i) => ({ name: `s-${i}`, ipAddress: '127.0.0.1' })))).hosts;
  await store.jobs.schedule(hosts.map((h) => h.id), { subject: 'bench', userName: 'bench', address: null });
  const result = { status: 2, description: 'Complete: Debian 12', failureReason: 0, ipAddress: '127.0.0.1', os: 'Debian', version: '12', hostConnected: true };
  const started = performance.now();
  let { scans } = await store.queue.claim('bench', CONCURRENCY, 60_000);
  while (scans.length > 0) {
    ({ claimed: scans } = await store.queue.finish('bench', scans.map((s) => ({ scanId: s.id, result })), { limit: CONCURRENCY, leaseMs: 60_000 }));
  }
  const rate = COUNT / ((performance.now() - started) / 1000);
  await store.stop();
  await db?.drop();
  data.remove();
  return rate;
}

async function gatewayRate(ports, closedPort) {
  const data = tempDir('scan-bench-');
  const hostsPath = join(data.dir, 'hosts.json');
  const ids = ports.map(() => crypto.randomUUID());
  writeFileSync(hostsPath, JSON.stringify(ports.map((port, i) => ({ id: ids[i], name: `bench-${i}`, ipAddress: '127.0.0.1', sshPort: port, winRmPort: closedPort }))));
  const db = USE_PG ? await tempDatabase() : null;
  if (USE_PG && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  const config = loadConfig({
    ...(db ? { DATABASE_URL: db.url } : {}),
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(data.dir, 'db'), HOSTS_FILE: hostsPath, JWT_SECRET: SECRET,
    SCAN_CONCURRENCY: String(CONCURRENCY), MAX_HOST_IDS: String(Math.max(1000, COUNT)), LOG_LEVEL: 'warn',
  });
  const gateway = await startGateway(config, { logger: createLogger('warn') });
  const token = mintToken({ key: Buffer.from(SECRET), subject: 'bench', roles: ['Admin'], ttl: '1h' });
  let done = 0;
  let resolveAll;
  const all = new Promise((r) => (resolveAll = r));
  const finished = new Set();
  gateway.events.subscribe((job) => {
    if (job.scans.every((s) => s.status >= 2 && s.status <= 6) && !finished.has(job.id)) {
      finished.add(job.id);
      if (++done === COUNT) resolveAll();
    }
  });
  const started = performance.now();
  const res = await fetch(`${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(ids),
  });
  if (res.status !== 200) throw new Error(`schedule failed: ${res.status} ${await res.text()}`);
  await all;
  const seconds = (performance.now() - started) / 1000;
  const complete = (await gateway.store.db.query('SELECT count(*)::int AS n FROM host_scans WHERE status = 2'))[0].n;
  await gateway.stop();
  await db?.drop();
  data.remove();
  return { rate: COUNT / seconds, complete };
}

(async () => {
  const listeners = forkHelper('listeners-child.js', [String(COUNT)]);
  const { ports } = await listeners.first;
  const closed = net.createServer();
  await new Promise((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = closed.address().port;
  await new Promise((r) => closed.close(r));

  await ceiling(ports.slice(0, 200)); // warm-up
  await scannerRate(ports.slice(0, 200), closedPort);
  const bare = await ceiling(ports);
  const probes = await scannerRate(ports, closedPort);
  const ours = await gatewayRate(ports, closedPort);
  const storeOnly = await storeRate();
  listeners.child.disconnect();
  report(`Scans of ${COUNT} loopback SSH listeners (in a separate process), concurrency ${CONCURRENCY}, ${USE_PG ? 'PostgreSQL' : 'embedded store'}`, [
    ['gateway: one REST call → scans → results stored', `${fmt(ours.rate)} scans/s (${ours.complete}/${COUNT} Complete)`],
    ['  ceiling: bare concurrent banner grab', `${fmt(bare)} scans/s`],
    ['  ratio (target ≥ 0.7)', fmt(ours.rate / bare, 2)],
    ['where the time goes: the scanner alone (SSH + WinRM probes, no store)', `${fmt(probes)} scans/s (${fmt(probes / bare, 2)} of the ceiling)`],
    ['  the store alone (claim and record in batches, no network)', `${fmt(storeOnly)} scans/s (gateway at ${fmt(ours.rate / storeOnly, 2)} of it)`],
  ]);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
