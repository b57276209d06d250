import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ActionStatus } from './model';
import type { Store } from './store';

/** What the metrics read when Prometheus scrapes. */
export interface MetricSources {
  store: Store;
  openSockets: () => number;
  activeSubscriptions: () => number;
  longestRenewalGapMs: () => number;
  /** Why job changes from other instances may go unheard, or null. */
  deafness: () => string | null;
}

/**
 * Prometheus metrics, in a registry of their own (one per gateway, so several gateways in one process
 * do not mix). Counters are fed by the edges and the runner; gauges are read at scrape time.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let sources: MetricSources | null = null;

  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route template and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method and route template.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const graphqlOperations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations by transport (http, ws), operation type and outcome (ok, error).',
    labelNames: ['transport', 'type', 'outcome'] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'rate_limited_total',
    help: 'Requests and WebSocket messages refused by a rate limit, by limit (address, subject, socket).',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  const scanDuration = new Histogram({
    name: 'scan_duration_seconds',
    help: 'Host scan duration by final status.',
    labelNames: ['status'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  new Gauge({
    name: 'websocket_open_sockets',
    help: 'Open GraphQL WebSockets.',
    registers: [registry],
    collect() {
      if (sources) this.set(sources.openSockets());
    },
  });
  new Gauge({
    name: 'graphql_active_subscriptions',
    help: 'Live hostScanJobStatus subscriptions on this instance.',
    registers: [registry],
    collect() {
      if (sources) this.set(sources.activeSubscriptions());
    },
  });
  new Gauge({
    name: 'scan_lease_longest_renewal_gap_seconds',
    help: 'Longest time between two lease renewals of this instance since start; SCAN_LEASE_MS minus this is the real margin.',
    registers: [registry],
    collect() {
      if (sources) this.set(sources.longestRenewalGapMs() / 1000);
    },
  });
  new Gauge({
    name: 'job_events_deaf',
    help: '1 while job changes from other instances may go unheard (a probe did not come back, or the connection is lost) and are read by the fallback poll instead, else 0.',
    registers: [registry],
    collect() {
      if (sources) this.set(sources.deafness() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'scan_jobs',
    help: 'Host scan jobs in the store by status.',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const counts = await sources?.store.jobs.countByStatus().catch(() => null);
      if (!counts) return;
      this.reset();
      for (const [status, n] of counts) this.set({ status: ActionStatus[status] ?? String(status) }, n);
    },
  });
  new Gauge({
    name: 'scan_queue_depth',
    help: 'Host scans waiting (queued) and in flight (running) across all instances.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const depth = await sources?.store.queue.depth().catch(() => null);
      if (!depth) return;
      this.set({ state: 'queued' }, depth.queued);
      this.set({ state: 'running' }, depth.running);
    },
  });

  return {
    registry,
    /** Connect the gauges to what they read; until then they report nothing. */
    attach(s: MetricSources) {
      sources = s;
    },
    httpRequest(method: string, route: string, status: number, seconds: number) {
      httpRequests.inc({ method, route, status: String(status) });
      httpDuration.observe({ method, route }, seconds);
    },
    graphqlOperation(transport: 'http' | 'ws', type: string, ok: boolean) {
      graphqlOperations.inc({ transport, type, outcome: ok ? 'ok' : 'error' });
    },
    rateLimited(limit: 'address' | 'subject' | 'socket') {
      rateLimited.inc({ limit });
    },
    scanFinished(status: ActionStatus, seconds: number) {
      scanDuration.observe({ status: ActionStatus[status] }, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
