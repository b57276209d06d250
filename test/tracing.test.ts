import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/gateway';
import { hostsFile, HOSTS } from './support/hosts';
import { call } from './support/http';
import { waitForJob } from './support/jobs';
import { adminToken } from './support/tokens';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** A real OTLP/HTTP receiver: keeps every span posted to /v1/traces (the exporter sends OTLP JSON). */
async function otlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      contentTypes.add(String(req.headers['content-type']));
      if (req.url === '/v1/traces') {
        for (const rs of JSON.parse(body).resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    contentTypes,
    close: () => new Promise((r) => server.close(r)),
    async waitFor(predicate: (s: ReceivedSpan) => boolean, what: string) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const found = spans.filter(predicate);
        if (found.length > 0) return found;
        if (Date.now() > deadline) throw new Error(`no span ${what} among ${spans.map((s) => s.name).join(', ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

const attr = (s: ReceivedSpan, key: string) => Object.values(s.attributes.find((a) => a.key === key)?.value ?? {})[0];

describe('OpenTelemetry traces over OTLP/HTTP', () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let t: TestGateway;
  beforeAll(async () => {
    receiver = await otlpReceiver();
    t = await startTestGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50', HOSTS_FILE: hostsFile() });
  });
  afterAll(async () => {
    await t.stop();
    await receiver.close();
  });

  it("continue the caller's trace: the request's span is the traceparent's child, and its id is the ProblemDetails traceId", async () => {
    const caller = { trace: '4bf92f3577b34da6a3ce929d0e0e4736', span: '00f067aa0ba902b7' };
    const res = await call(`${t.url}/api/v1/HostScanJob/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, {
      token: adminToken(),
      headers: { traceparent: `00-${caller.trace}-${caller.span}-01` },
    });
    expect(res.status).toBe(404);
    const [, traceId, spanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(res.json.traceId)!;
    expect(traceId).toBe(caller.trace);
    const [request] = await receiver.waitFor((s) => s.spanId === spanId, 'for the request');
    expect(request).toMatchObject({ traceId: caller.trace, parentSpanId: caller.span, name: 'GET /api/v1/HostScanJob/:hostScanJobId' });
    expect(attr(request!, 'http.response.status_code')).toBe(404);
    // The store call the route made is the request's child.
    const [store] = await receiver.waitFor((s) => s.parentSpanId === spanId && s.name.startsWith('store '), 'for the store call');
    expect(store!.name).toBe('store jobs.getJobs');
    const logged = t.logs.map((l) => JSON.parse(l)).filter((l) => l.traceId === res.json.traceId);
    expect(logged.length).toBeGreaterThan(0);
  });

  it('give a GraphQL operation its own span under the request, and each scan a span', async () => {
    const res = await call(`${t.url}/graphql`, {
      token: adminToken(),
      body: { query: 'mutation Scan($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }', variables: { ids: [HOSTS.alpha.id] } },
    });
    expect(res.status).toBe(200);
    const [operation] = await receiver.waitFor((s) => s.name === 'graphql.mutation Scan', 'for the operation');
    expect(attr(operation!, 'graphql.operation.type')).toBe('mutation');
    const [request] = await receiver.waitFor((s) => s.spanId === operation!.parentSpanId, 'for its request');
    expect(request!.name).toBe('POST /graphql');
    await receiver.waitFor((s) => s.traceId === request!.traceId && s.name.startsWith('store '), 'for its store calls');
    await waitForJob(t.url, res.json.data.scheduleHostScans[0].id, adminToken());
    const [scan] = await receiver.waitFor((s) => s.name === `scan ${HOSTS.alpha.name}`, 'for the scan');
    expect(attr(scan!, 'scan.ok')).toBeDefined();
    expect([...receiver.contentTypes]).toEqual(['application/json']);
    // Tokens never travel in a span.
    expect(JSON.stringify(receiver.spans)).not.toContain(adminToken().split('.')[2]);
  });
});

describe('without an OTLP endpoint', () => {
  it('sends nothing and adds no span to a request', async () => {
    const receiver = await otlpReceiver();
    const t = await startTestGateway({}, { runner: false });
    const res = await call(`${t.url}/api/v1/HostScanJob`, { token: adminToken() });
    expect(res.status).toBe(200);
    await t.stop();
    expect(receiver.spans).toEqual([]);
    await receiver.close();
  });
});
