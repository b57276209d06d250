import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../src/logger';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { waitForJob } from './support/jobs';
import { closedPort, sshListener } from './support/listeners';
import { adminToken } from './support/tokens';
import { until } from './support/wait';


let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ HOSTS_FILE: hostsFile() });
});
afterAll(() => t.stop());

describe('OpenAPI', () => {
  it('serves a valid OpenAPI 3 document at the vendor path, and every route in it answers', async () => {
    const res = await call(`${t.url}/swagger/v1/swagger.json`);
    expect(res.status).toBe(200);
    const doc = res.json;
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/HostScanJob',
      '/api/v1/HostScanJob/ByHostId/{hostId}',
      '/api/v1/HostScanJob/ByHostIdMultiple',
      '/api/v1/HostScanJob/Group/{groupId}',
      '/api/v1/HostScanJob/Host',
      '/api/v1/HostScanJob/Host/{hostId}',
      '/api/v1/HostScanJob/Host/{hostScanHostId}/Start',
      '/api/v1/HostScanJob/Host/{hostScanHostId}/Stop',
      '/api/v1/HostScanJob/ImportCSV',
      '/api/v1/HostScanJob/User',
      '/api/v1/HostScanJob/User/SID/{sid}',
      '/api/v1/HostScanJob/User/{userId}',
      '/api/v1/HostScanJob/ValidateImportedCSV',
      '/api/v1/HostScanJob/{hostScanJobId}',
      '/api/v1/HostScanJob/{managedResourceId}',
      '/api/v1/UserToken',
      '/api/v1/audit/export',
      '/api/v1/backup',
      '/health/live',
      '/health/ready',
    ]);
    const [job] = (await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: [HOSTS.beta.id] })).json;
    const values: Record<string, string> = { hostId: HOSTS.beta.id, hostScanJobId: job.id, groupId: randomUUID(), userId: randomUUID(), sid: 'S-1-5-21-1-2-3-500' };
    for (const [path, methods] of Object.entries<Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const url = t.url + path.replace(/\{(\w+)\}/g, (_, name: string) => values[name]!);
        const answer = await call(url, { method: method.toUpperCase(), token: adminToken(), body: op.requestBody ? [HOSTS.alpha.id] : undefined });
        expect(Object.keys(op.responses), `${method.toUpperCase()} ${path} → ${answer.status}`).toContain(String(answer.status));
      }
    }
    // Every route once, a whole backup among them: 30 s was too short on a loaded two-core machine.
  }, 90_000);

  it('documents the routes with the vendor enums and bearer security', async () => {
    const doc = (await call(`${t.url}/swagger/v1/swagger.json`)).json;
    const post = doc.paths['/api/v1/HostScanJob/ByHostIdMultiple'].post;
    expect(post.security).toEqual([{ Bearer: [] }]);
    expect(post.requestBody.content['application/json'].schema).toMatchObject({ type: 'array', items: { type: 'string', format: 'uuid' } });
    const status = post.responses['200'].content['application/json'].schema.items.properties.status;
    expect(status.enum).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(status.description).toContain('0 Queued');
  });

  it('serves Swagger UI at /swagger', async () => {
    const res = await fetch(`${t.url}/swagger/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/swagger/i);
  });
});

describe('metrics', () => {
  it('exposes requests, GraphQL operations, sockets, subscriptions, jobs, queue depth and scan durations', async () => {
    const ssh = await sshListener('SSH-2.0-OpenSSH_8.0');
    const [h] = await t.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: `m-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: await closedPort() }] });
    const scheduled = await gql(t.url, adminToken(), `mutation { scheduleHostScans(hostIds: ["${h!.id}"]) { id } }`);
    const jobId = scheduled.body.data.scheduleHostScans[0].id;
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { token: adminToken() } }));
    await new Promise((r) => ws.once('message', r));
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { id } }' } }));
    await waitForJob(t.url, jobId, adminToken());
    await call(`${t.url}/api/v1/HostScanJob/${randomUUID()}`, { token: adminToken() });

    const res = await fetch(`${t.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/api\/v1\/HostScanJob\/:hostScanJobId",status="404"\} \d+/);
    expect(text).toMatch(/graphql_operations_total\{transport="http",type="mutation",outcome="ok"\} \d+/);
    expect(text).toMatch(/graphql_operations_total\{transport="ws",type="subscription",outcome="ok"\} \d+/);
    expect(text).toMatch(/^websocket_open_sockets 1$/m);
    expect(text).toMatch(/^graphql_active_subscriptions [1-9]\d*$/m);
    expect(text).toMatch(/scan_jobs\{status="Complete"\} [1-9]/);
    expect(text).toMatch(/scan_queue_depth\{state="queued"\} \d+/);
    expect(text).toMatch(/scan_duration_seconds_count\{status="Complete"\} [1-9]/);
    expect(text).toMatch(/process_resident_memory_bytes/);
    ws.close();
    // Once the socket is gone, so are its subscriptions (they once read 1 beside 0 sockets).
    const after = await until('/metrics to count no open socket', async () => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      return /^websocket_open_sockets 0$/m.test(text) && text;
    });
    expect(after).toMatch(/^graphql_active_subscriptions 0$/m);
    await ssh.close();
  });
});

describe('logs', () => {
  it('label every line of a request with the traceId its ProblemDetails carries', async () => {
    const res = await call(`${t.url}/api/v1/HostScanJob/${randomUUID()}`, { token: adminToken() });
    const lines = t.logs.map((l) => JSON.parse(l)).filter((l) => l.traceId === res.json.traceId);
    expect(lines).toEqual([expect.objectContaining({ msg: 'request', status: 404, method: 'GET' })]);
  });

  it('redact credentials wherever a careless call puts them', () => {
    const out: string[] = [];
    const logger = createLogger('info', new Writable({ write: (c, _e, done) => (out.push(String(c)), done()) }));
    logger.info({ authorization: 'Bearer abc', headers: { authorization: 'Bearer def' }, token: 'ghi', connectionParams: { token: 'jkl' }, secret: 'mno' }, 'careless');
    expect(out.join('')).not.toMatch(/abc|def|ghi|jkl|mno/);
    expect(out.join('')).toContain('[redacted]');
  });
});

describe('development conveniences', () => {
  it('fills the dashboard token only in development and only for this machine', async () => {
    const dev = await startTestGateway({ JWT_SECRET: '' }, { runner: false });
    const config = await call(`${dev.url}/dashboard/config.json`);
    expect(config.json.devToken).toBe(dev.gateway.devTokens!.admin);
    expect((await call(`${dev.url}/api/v1/HostScanJob`, { token: config.json.devToken })).status).toBe(200);
    await dev.stop();
    expect((await call(`${t.url}/dashboard/config.json`)).json).toEqual({ devToken: null });
    const page = await fetch(`${t.url}/`);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await page.text()).toContain('<title>Scan gateway</title>');
    expect((await fetch(`${t.url}/assets/graphql-ws/client.js`)).status).toBe(200);
    expect((await fetch(`${t.url}/assets/graphql-ws/..%2F..%2Fpackage.json`)).status).toBe(404);
  });
});

describe('TLS', () => {
  it('serves HTTPS and WSS with TLS_CERT_FILE and TLS_KEY_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scan-gateway-tls-'));
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const tls = await startTestGateway({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key }, { runner: false });
    try {
      expect(tls.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(`${tls.url}/api/v1/HostScanJob`, { ca, headers: { authorization: `Bearer ${adminToken()}` } }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode} ${text}`))));
        });
        req.on('error', reject);
        req.end();
      });
      expect(JSON.parse(body)).toEqual([]);
      const ws = new WebSocket(`${tls.url.replace('https', 'wss')}/graphql`, 'graphql-transport-ws', { ca });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ type: 'connection_init', payload: { token: adminToken() } }));
      expect(JSON.parse(String(await new Promise((r) => ws.once('message', r))))).toEqual({ type: 'connection_ack' });
      ws.close();
      await expect(fetch(tls.url.replace('https', 'http') + '/health/live')).rejects.toThrow();
    } finally {
      await tls.stop();
    }
  });

  it('refuses to start with only one of the two files, naming the missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scan-gateway-tls-'));
    writeFileSync(join(dir, 'cert.pem'), 'not a certificate');
    await expect(startTestGateway({ TLS_CERT_FILE: join(dir, 'cert.pem') })).rejects.toThrow(/^TLS_KEY_FILE is required/);
  });
});

