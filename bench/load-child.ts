// The HTTP load generator, in a process of its own so it does not share the server's event loop.
// Receives one job over IPC, runs autocannon, answers with the figures.
import type { LoadJob, LoadResult } from './lib';
import type { Autocannon } from './autocannon';

const autocannon = require('autocannon') as Autocannon;

process.on('message', async (job: LoadJob) => {
  let i = 0;
  const bodies = job.bodies ?? null;
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    ...(job.duration ? { duration: job.duration } : {}),
    // A fixed number of requests instead of a duration (big answers: a partial one is not counted).
    ...(job.amount ? { amount: job.amount } : {}),
    ...(job.overallRate ? { overallRate: job.overallRate } : {}),
    timeout: job.timeout ?? 10,
    method: job.method ?? 'GET',
    headers: job.headers ?? {},
    requests: [
      {
        setupRequest(req) {
          if (bodies) req.body = bodies[i++ % bodies.length];
          return req;
        },
      },
    ],
  });
  const answer: LoadResult = {
    rps: result.requests.total / (job.amount ? result.duration : job.duration!),
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
  process.send!(answer);
});
