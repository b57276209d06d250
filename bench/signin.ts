// Sign-in throughput and the event loop beside it (issue 15):
//   ceiling   raw @node-rs/argon2 verify of the same Argon2id hash, from as many concurrent calls as libuv
//             has pool threads (the most the pool can do on this machine), in this process
//   figure    POST /signinBody (password only: SIGNIN_MFA=off; a full token per call, each audited) from
//             autocannon in its own process, as fast as it goes; per core and as a ratio to the ceiling
//   loop      sign-ins held at 90 % of that rate (autocannon overallRate) beside GET /api/v1/HostScanJob/{id}
//             at a fixed rate: the gateway's event-loop delay p99 (perf_hooks monitorEventLoopDelay in the
//             gateway's process, which is this one, and the nodejs_eventloop_lag_p99_seconds gauge from
//             /metrics over the same span), and the GETs' p99 as a client sees it; then GETs alone.
//   npm run build && node --import tsx bench/signin.ts [--pg] [--duration 10] [--get-rate 400]
import 'reflect-metadata';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { verify } from '@node-rs/argon2';
import { load, tempDir, tempDatabase, rate, fmt, report } from './lib';

const { loadConfig } = require('../dist/config') as typeof import('../src/config');
const { startGateway } = require('../dist/gateway') as typeof import('../src/gateway');
const { sqlOf } = require('../dist/store') as typeof import('../src/store');
const { mintToken } = require('../dist/auth') as typeof import('../src/auth');
const { createLogger } = require('../dist/logger') as typeof import('../src/logger');
const { hashPassword } = require('../dist/passwords') as typeof import('../src/passwords');

const args = process.argv.slice(2);
const USE_PG = args.includes('--pg');
const DURATION = Number(args[args.indexOf('--duration') + 1]) || 10;
const GET_RATE = Number(args[args.indexOf('--get-rate') + 1]) || 400;
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop';
const PASSWORD = 'bench password, long enough';
const POOL_THREADS = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const CORES = availableParallelism();
const TARGET_P99_MS = 20;

/** The event loop's delay p99 (ms) over `run`, measured in this process (the gateway's). */
async function loopDelayDuring<T>(run: () => Promise<T>): Promise<{ result: T; p99: number; max: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const result = await run();
  histogram.disable();
  return { result, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 };
}

async function main(): Promise<void> {
  // Ceiling: the same parameters the gateway hashes with (hashPassword), verified straight through the binding.
  const phc = await hashPassword(PASSWORD);
  await rate(1, POOL_THREADS, () => verify(phc, PASSWORD));
  const ceiling = await rate(DURATION, POOL_THREADS, async () => {
    if (!(await verify(phc, PASSWORD))) throw new Error('raw verify refused the password');
  });

  const data = tempDir('signin-bench-');
  const db = USE_PG ? await tempDatabase() : null;
  if (USE_PG && !db) throw new Error('--pg needs PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL)');
  const config = loadConfig({
    RATE_LIMIT_PER_ADDRESS: '0', RATE_LIMIT_PER_SUBJECT: '0', SIGNIN_MFA: 'off',
    PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(data.dir, 'db'), JWT_SECRET: SECRET, LOG_LEVEL: 'warn',
    ...(db ? { DATABASE_URL: db.url } : {}),
  });
  const gateway = await startGateway(config, { logger: createLogger('warn'), runner: false });
  try {
    const admin = { subject: 'bench', userName: 'bench', roles: new Set(['Admin'] as const), expiresAt: Infinity };
    await gateway.accounts.createUser(admin, { login: 'bench', password: PASSWORD, roles: ['App'] });
    const signIn = { url: `${gateway.url}/signinBody`, method: 'POST', headers: { 'content-type': 'application/json' }, bodies: [JSON.stringify({ Login: 'bench', Password: PASSWORD })] };

    const token = mintToken({ key: Buffer.from(SECRET), subject: 'bench', roles: ['Admin'], ttl: '1h' });
    await sqlOf(gateway.store).query(`INSERT INTO hosts (id, name, ip_address) VALUES (gen_random_uuid(), 'bench-host', '127.0.0.1')`);
    const [host] = await sqlOf(gateway.store).query<{ id: string }>(`SELECT id FROM hosts WHERE name = 'bench-host'`);
    const job = await gateway.store.jobs.schedule([host!.id], { subject: 'bench', userName: 'bench', address: '127.0.0.1' });
    const reads = { url: `${gateway.url}/api/v1/HostScanJob/${job.jobs![0]!.id}`, headers: { authorization: `Bearer ${token}` } };

    await load({ ...signIn, connections: POOL_THREADS * 2, duration: 2 }); // warm-up, not counted
    const flat = await load({ ...signIn, connections: POOL_THREADS * 2, duration: DURATION });
    if (flat.non2xx || flat.errors) throw new Error(`sign-ins failed: ${flat.non2xx} non-2xx, ${flat.errors} errors`);

    const held = Math.max(1, Math.floor(flat.rps * 0.9));
    const metricP99 = async () => {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      return Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1]) * 1000;
    };
    await metricP99(); // prom-client resets its histogram at each scrape: the next one covers the run alone
    const beside = await loopDelayDuring(() => Promise.all([
      load({ ...signIn, connections: POOL_THREADS * 2, duration: DURATION, overallRate: held }),
      load({ ...reads, connections: 10, duration: DURATION, overallRate: GET_RATE }),
    ]));
    const besideMetric = await metricP99();
    const alone = await loopDelayDuring(() => load({ ...reads, connections: 10, duration: DURATION, overallRate: GET_RATE }));
    const aloneMetric = await metricP99();
    const [signins, gets] = beside.result;

    report(`Sign-in through HTTP (POST /signinBody, MFA off), Argon2id 19 MiB × 2 passes × 1 lane; ${CORES} cores, ${POOL_THREADS} pool threads, ${USE_PG ? 'PostgreSQL' : 'embedded store'}, ${DURATION} s runs`, [
      ['ceiling: raw @node-rs/argon2 verify, same hash', `${fmt(ceiling, 1)} /s (${fmt(ceiling / CORES, 1)} per core)`],
      ['sign-ins through HTTP, as fast as they go', `${fmt(flat.rps, 1)} /s (${fmt(flat.rps / CORES, 1)} per core), p99 ${flat.p99} ms`],
      ['ratio sign-ins / ceiling', fmt(flat.rps / ceiling, 2)],
      [`sign-ins held at ${held} /s beside GETs at ${GET_RATE} /s: achieved`, `${fmt(signins.rps, 1)} sign-ins/s, ${fmt(gets.rps, 0)} GETs/s (${signins.non2xx + gets.non2xx} non-2xx, ${signins.errors + gets.errors} errors)`],
      ['  event loop delay p99 (monitorEventLoopDelay; max)', `${fmt(beside.p99, 1)} ms (${fmt(beside.max, 1)} ms), target < ${TARGET_P99_MS} ms`],
      ['  event loop delay p99 (/metrics nodejs_eventloop_lag_p99_seconds)', `${fmt(besideMetric, 1)} ms`],
      ['  GET p99 from the client; sign-in p99', `${gets.p99} ms; ${signins.p99} ms`],
      [`GETs alone at ${GET_RATE} /s: event loop delay p99 (max); /metrics; GET p99`, `${fmt(alone.p99, 1)} ms (${fmt(alone.max, 1)} ms); ${fmt(aloneMetric, 1)} ms; ${alone.result.p99} ms`],
    ]);
  } finally {
    await gateway.stop();
    await db?.drop();
    data.remove();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
