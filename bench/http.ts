// HTTP figures, each against a ceiling measured in the same run (load from a separate process):
//   REST ByHostIdMultiple (1 id, 50 connections)   vs the same store writes made directly
//   GraphQL scheduleHostScans (same work)           vs the REST route
//   GET /api/v1/HostScanJob/{id}                    vs a bare node:http server returning the same bytes, and
//                                                   vs a bare Fastify route returning them (interleaved rounds)
//   1,000 host ids in one call                      vs one bulk insert of the same rows
//   npm run build && node --import tsx bench/http.ts [--pg] [--duration 5] [--rounds 3]
// The write figures alternate in rounds (direct, REST, GraphQL, direct, …) after one unmeasured round, and
// report medians: on a shared two-core machine the order of phases and the drift of the store over a run
// would otherwise decide the ratios.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { CONNECTIONS, CREATOR, STATUS_FIELDS, httpBenchOptions, startBenchGateway } from './gateway';
import { load, rate, median, fmt, report, type LoadResult } from './lib';

const { sqlOf } = require('../dist/store') as typeof import('../src/store');

const { pg: USE_PG, duration: DURATION, rounds: ROUNDS } = httpBenchOptions();


async function main(): Promise<void> {
  const { gateway, headers, stop } = await startBenchGateway({ prefix: 'http-bench-', pg: USE_PG });
  const store = gateway.store;

  // Hosts enough that no request meets a host that already has a job (that would be a read, not a write).
  const perRound = 8000; // more than the fastest path writes in one round
  await sqlOf(store).query(`INSERT INTO hosts (id, name, ip_address) SELECT gen_random_uuid(), 'bench-' || g, '127.0.0.1' FROM generate_series(1, $1::int) g`, [(ROUNDS + 1) * 3 * perRound + 10_000]);
  const ids = (await sqlOf(store).query<{ id: string }>('SELECT id FROM hosts WHERE name LIKE $1', ['bench-%'])).map((r) => r.id);
  const take = (n: number) => ids.splice(0, n);

  const runs: { direct: number[]; rest: LoadResult[]; graphql: LoadResult[] } = { direct: [], rest: [], graphql: [] };
  for (let round = 0; round <= ROUNDS; round++) {
    const seconds = round === 0 ? 2 : DURATION; // round 0 warms up every path and is not counted
    const directIds = take(perRound);
    const direct = await rate(seconds, CONNECTIONS, async (i) => {
      const r = await store.jobs.schedule([directIds[i]!], CREATOR);
      if (!r.jobs) throw new Error('direct write refused');
    });
    const rest = await load({
      url: `${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, method: 'POST', connections: CONNECTIONS, duration: seconds, headers,
      bodies: take(perRound).map((id) => JSON.stringify([id])),
    });
    const graphql = await load({
      url: `${gateway.url}/graphql`, method: 'POST', connections: CONNECTIONS, duration: seconds, headers,
      bodies: take(perRound).map((id) => JSON.stringify({ query: `mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { ${STATUS_FIELDS} } }`, variables: { ids: [id] } })),
    });
    if (round > 0) {
      runs.direct.push(direct);
      runs.rest.push(rest);
      runs.graphql.push(graphql);
    }
  }
  const byRate = (rs: LoadResult[]) => [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)]!;
  const direct = median(runs.direct);
  const rest = byRate(runs.rest);
  const graphql = byRate(runs.graphql);
  const each = (rs: (LoadResult | number)[]) => rs.map((r) => fmt(typeof r === 'number' ? r : r.rps)).join(', ');

  const [jobId] = await store.jobs.listIds({ limit: 1 });
  const entity = await (await fetch(`${gateway.url}/api/v1/HostScanJob/${jobId}`, { headers })).text();
  const bare = Fastify();
  bare.get('/api/v1/HostScanJob/:id', async (_req, reply) => reply.type('application/json; charset=utf-8').send(entity));
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const plain = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(entity) });
    res.end(entity);
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  const getFrom = (port: number | string) => ({ url: `http://127.0.0.1:${port}/api/v1/HostScanJob/${jobId}`, connections: CONNECTIONS, duration: DURATION, headers, warmup: true });
  const reads = {
    plain: getFrom((plain.address() as AddressInfo).port),
    bare: getFrom((bare.server.address() as AddressInfo).port),
    get: getFrom(new URL(gateway.url).port),
  };
  const readRuns: Record<keyof typeof reads, LoadResult[]> = { plain: [], bare: [], get: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(reads) as (keyof typeof reads)[]) readRuns[name].push(await load(reads[name]));
  }
  await bare.close();
  await new Promise((resolve) => plain.close(resolve));
  const [get, bareGet, plainGet] = [byRate(readRuns.get), byRate(readRuns.bare), byRate(readRuns.plain)];

  const bulk: { ours: number[]; ceiling: number[] } = { ours: [], ceiling: [] };
  for (let round = 0; round < 5; round++) {
    const batch = take(1000);
    let t = performance.now();
    const res = await fetch(`${gateway.url}/api/v1/HostScanJob/ByHostIdMultiple`, { method: 'POST', headers, body: JSON.stringify(batch) });
    await res.text();
    if (res.status !== 200) throw new Error(`1000-id call: ${res.status}`);
    bulk.ours.push(performance.now() - t);
    const rows = take(1000);
    t = performance.now();
    await sqlOf(store).transaction(async (tx) => {
      const jobIds = rows.map(() => randomUUID());
      await tx.query('INSERT INTO host_scan_jobs (id, created_by) SELECT id, $2 FROM unnest($1::uuid[]) AS id', [jobIds, 'bench']);
      await tx.query(
        `INSERT INTO host_scans (id, job_id, host_id, position, name) SELECT v.id, v.job_id, h.id, 0, h.name
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS v(id, job_id, host_id) JOIN hosts h ON h.id = v.host_id`,
        [rows.map(() => randomUUID()), jobIds, rows],
      );
    });
    bulk.ceiling.push(performance.now() - t);
  }
  await stop();

  const failures = [...runs.rest, ...runs.graphql, ...Object.values(readRuns).flat()].reduce((n, r) => n + r.non2xx + r.errors, 0);
  report(`HTTP, ${USE_PG ? 'PostgreSQL' : 'embedded store (PGlite)'}, ${CONNECTIONS} connections, ${DURATION} s each, writes: median of ${ROUNDS} rounds`, [
    ['REST ByHostIdMultiple, 1 id', `${fmt(rest.rps)} req/s (p99 ${rest.p99} ms; rounds ${each(runs.rest)})`],
    ['  ceiling: the same store writes made directly', `${fmt(direct)} writes/s (rounds ${each(runs.direct)})`],
    ['  ratio (target ≥ 0.8)', fmt(rest.rps / direct, 2)],
    ['GraphQL scheduleHostScans, same work', `${fmt(graphql.rps)} req/s (p99 ${graphql.p99} ms; rounds ${each(runs.graphql)})`],
    ['  ratio to REST (target ≥ 0.9)', fmt(graphql.rps / rest.rps, 2)],
    [`GET /api/v1/HostScanJob/{id}, median of ${ROUNDS} interleaved rounds`, `${fmt(get.rps)} req/s (p99 ${get.p99} ms; rounds ${each(readRuns.get)})`],
    ['  ceiling: bare node:http server, same bytes', `${fmt(plainGet.rps)} req/s (rounds ${each(readRuns.plain)})`],
    ['  ratio (target ≥ 0.6)', fmt(get.rps / plainGet.rps, 2)],
    ['  bare Fastify route, same bytes', `${fmt(bareGet.rps)} req/s (rounds ${each(readRuns.bare)})`],
    ['  ratio to it', fmt(get.rps / bareGet.rps, 2)],
    ['1,000 host ids in one call (median of 5)', `${fmt(median(bulk.ours), 1)} ms`],
    ['  ceiling: one bulk insert of the same rows', `${fmt(median(bulk.ceiling), 1)} ms`],
    ['  ratio (target ≤ 3)', fmt(median(bulk.ours) / median(bulk.ceiling), 2)],
    ['non-2xx responses and errors', String(failures)],
  ]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
