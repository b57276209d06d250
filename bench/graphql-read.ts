// GraphQL reads against Apollo's own floor, each ceiling measured in the same run (load from a separate
// process, 50 connections, interleaved rounds, medians):
//   hostScanJob(id) with every status field      vs a bare Apollo Server 5 on Fastify answering { hello }
//                                                 and vs a bare Apollo Server 5 answering the same query with the
//                                                 same data from memory (the committed SDL, one resolver): the
//                                                 floor for that response, so the ratio is what our path adds
//   { __typename } through the gateway             vs the same bare server (what the gateway's pipeline adds)
//   hostScanJobs(first: 100) page                  vs the REST list of the same 100 jobs
//   npm run build && node --import tsx bench/graphql-read.ts [--pg] [--duration 5] [--rounds 3]
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify from 'fastify';
import { CONNECTIONS, CREATOR, STATUS_FIELDS, httpBenchOptions, startBenchGateway } from './gateway';
import { fmt, load, report, type LoadResult } from './lib';

const { sqlOf } = require('../dist/store') as typeof import('../src/store');

const { pg: USE_PG, duration: DURATION, rounds: ROUNDS } = httpBenchOptions();

/** A bare Apollo Server 5 on Fastify, configured as the gateway's is where it costs (no cache control, no inline trace). */
async function bareApollo(typeDefs: string, resolvers: Record<string, Record<string, () => unknown>>): Promise<{ url: string; stop(): Promise<void> }> {
  const apollo = new ApolloServer({
    typeDefs,
    resolvers,
    plugins: [ApolloServerPluginCacheControlDisabled(), ApolloServerPluginInlineTraceDisabled(), ApolloServerPluginLandingPageDisabled()],
  });
  await apollo.start();
  const app = Fastify();
  app.route({ method: ['GET', 'POST'], url: '/graphql', handler: fastifyApolloHandler(apollo) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/graphql`,
    stop: async () => {
      await app.close();
      await apollo.stop();
    },
  };
}

async function main(): Promise<void> {
  const bench = await startBenchGateway({ prefix: 'graphql-read-bench-', pg: USE_PG });
  const { gateway } = bench;
  const headers = { ...bench.headers, 'apollo-require-preflight': '1' };
  await sqlOf(gateway.store).query(`INSERT INTO hosts (id, name, ip_address) SELECT gen_random_uuid(), 'bench-' || g, '127.0.0.1' FROM generate_series(1, 100) g`);
  const hostIds = (await sqlOf(gateway.store).query<{ id: string }>('SELECT id FROM hosts ORDER BY name')).map((r) => r.id);
  for (const id of hostIds) await gateway.store.jobs.schedule([id], CREATOR);
  const [jobId] = await gateway.store.jobs.listIds({ limit: 1 });
  const jobBody = JSON.stringify({ query: `query($id: ID!) { hostScanJob(id: $id) { ${STATUS_FIELDS} } }`, variables: { id: jobId } });
  const answerText = await (await fetch(`${gateway.url}/graphql`, { method: 'POST', headers, body: jobBody })).text();
  const answer = JSON.parse(answerText) as { data?: { hostScanJob: unknown } };
  if (!answer.data?.hostScanJob) throw new Error(`no job to serve: ${answerText.slice(0, 200)}`);
  const bare = await bareApollo('type Query { hello: String! }', { Query: { hello: () => 'world' } });
  const same = await bareApollo(readFileSync(join(__dirname, '..', 'schema.graphql'), 'utf8'), { Query: { hostScanJob: () => answer.data!.hostScanJob } });

  const sameText = await (await fetch(same.url, { method: 'POST', headers, body: jobBody })).text();
  if (sameText !== answerText) throw new Error(`the bare server's answer differs: ${sameText.slice(0, 200)}`);

  const post = (url: string, body: unknown) => ({ url, method: 'POST', connections: CONNECTIONS, duration: DURATION, headers, bodies: [typeof body === 'string' ? body : JSON.stringify(body)], warmup: true });
  const phases = {
    hello: post(bare.url, { query: '{ hello }' }),
    typename: post(`${gateway.url}/graphql`, { query: '{ __typename }' }),
    same: post(same.url, jobBody),
    job: post(`${gateway.url}/graphql`, jobBody),
    page: post(`${gateway.url}/graphql`, { query: `{ hostScanJobs(first: 100) { edges { node { ${STATUS_FIELDS} } } } }` }),
    restPage: { url: `${gateway.url}/api/v1/HostScanJob?take=100`, connections: CONNECTIONS, duration: DURATION, headers, warmup: true },
  };
  // A page must really hold 100 jobs, on both paths.
  const check = (await (await fetch(phases.page.url, { method: 'POST', headers, body: phases.page.bodies[0] })).json()) as { data?: { hostScanJobs: { edges: unknown[] } } };
  const rest = (await (await fetch(phases.restPage.url, { headers })).json()) as unknown[];
  if (check.data?.hostScanJobs.edges.length !== 100 || rest.length !== 100) throw new Error(`pages are not 100 jobs: ${JSON.stringify(check).slice(0, 200)}`);

  const runs: Record<keyof typeof phases, LoadResult[]> = { hello: [], typename: [], same: [], job: [], page: [], restPage: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(phases) as (keyof typeof phases)[]) runs[name].push(await load(phases[name]));
  }
  await bare.stop();
  await same.stop();
  await bench.stop();

  const mid = (rs: LoadResult[]) => [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)]!;
  const each = (rs: LoadResult[]) => rs.map((r) => fmt(r.rps)).join(', ');
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, mid(v)])) as Record<keyof typeof phases, LoadResult>;
  const failures = Object.values(runs).flat().reduce((n, r) => n + r.non2xx + r.errors, 0);
  report(`GraphQL reads, ${USE_PG ? 'PostgreSQL' : 'embedded store (PGlite)'}, ${CONNECTIONS} connections, ${DURATION} s each, median of ${ROUNDS} interleaved rounds`, [
    ['ceiling: bare Apollo Server 5 on Fastify, { hello }', `${fmt(m.hello.rps)} req/s (p99 ${m.hello.p99} ms; rounds ${each(runs.hello)})`],
    ['gateway { __typename }', `${fmt(m.typename.rps)} req/s (rounds ${each(runs.typename)})`],
    ['  ratio to the bare server', fmt(m.typename.rps / m.hello.rps, 2)],
    ['gateway hostScanJob(id), every status field', `${fmt(m.job.rps)} req/s (p99 ${m.job.p99} ms; rounds ${each(runs.job)})`],
    ['  ratio to the bare server (target ≥ 0.8)', fmt(m.job.rps / m.hello.rps, 2)],
    ['  ceiling: bare Apollo, the same query answered from memory', `${fmt(m.same.rps)} req/s (rounds ${each(runs.same)})`],
    ['  ratio to it (proposed target ≥ 0.8)', fmt(m.job.rps / m.same.rps, 2)],
    ['gateway hostScanJobs(first: 100)', `${fmt(m.page.rps)} req/s (rounds ${each(runs.page)})`],
    ['  ceiling: REST list of the same 100 jobs', `${fmt(m.restPage.rps)} req/s (rounds ${each(runs.restPage)})`],
    ['  ratio (target ≥ 0.5)', fmt(m.page.rps / m.restPage.rps, 2)],
    ['non-2xx responses and errors', String(failures)],
  ]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
