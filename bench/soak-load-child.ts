// Mixed REST and GraphQL traffic for the soak, in its own process: autocannon at a fixed overall rate,
// each request drawn from a weighted mix. Reports autocannon's totals when done.
import type { Autocannon, AutocannonRequest } from './autocannon';

const autocannon = require('autocannon') as Autocannon;

/** What bench/soak.ts sends. */
export interface SoakLoadJob {
  url: string;
  token: string;
  hostIds: string[];
  jobIds: string[];
  scannedHostIds: string[];
  seconds: number;
  rate: number;
}

/** What this process answers. */
export interface SoakLoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, { count: number }>;
}

process.on('message', async ({ url, token, hostIds, jobIds, scannedHostIds, seconds, rate }: SoakLoadJob) => {
  const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const mix: (() => AutocannonRequest)[] = [
    () => ({ method: 'POST', path: '/api/v1/HostScanJob/ByHostIdMultiple', body: JSON.stringify([pick(hostIds)]) }),
    () => ({ method: 'GET', path: '/api/v1/HostScanJob?take=20' }),
    () => ({ method: 'GET', path: `/api/v1/HostScanJob/${pick(jobIds)}` }),
    () => ({ method: 'GET', path: `/api/v1/HostScanJob/ByHostId/${pick(scannedHostIds)}` }),
    () => ({ method: 'POST', path: '/graphql', body: JSON.stringify({ query: '{ hostScanJobs(first: 10) { nodes { id status hostScanHostStatus { name status os } } } }' }) }),
    () => ({ method: 'POST', path: '/graphql', body: JSON.stringify({ query: 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id status } }', variables: { ids: [pick(hostIds)] } }) }),
  ];
  const result = await autocannon({
    url,
    connections: 20,
    duration: seconds,
    overallRate: rate,
    headers: auth,
    // A fresh request each time: spreading the previous one would carry a stale Content-Length into GETs.
    requests: [{ setupRequest: (req) => ({ method: 'GET', path: '/', ...pick(mix)(), headers: { ...auth }, host: req.host }) }],
  });
  const answer: SoakLoadResult = { requests: result.requests.total, non2xx: result.non2xx, errors: result.errors + result.timeouts, statusCodes: result.statusCodeStats };
  process.send!(answer);
});
