import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayBackends, gatewayOn } from './support/backends';
import { freshDataDir, startTestGateway, type TestGateway } from './support/gateway';
import { gql, rawSocket } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { adminToken, appToken, rawToken, token } from './support/tokens';
import { ADMIN } from './support/principals';
import { until } from './support/wait';

// Round two of hostile callers (issue 21): each case reproduces an attack that once worked.


function startFlood(url: string, token: string, sockets: number, perSocket: number): Promise<ChildProcess> {
  const child = fork(resolve('test/support/flood-child.ts'), [url.replace(/^http/, 'ws') + '/graphql', token, String(sockets), String(perSocket)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((ready, fail) => {
    child.once('message', () => ready(child));
    child.once('exit', (code) => fail(new Error(`flood child exited with ${code} before it was ready`)));
  });
}

/** What the flood child saw; `terminal` counts, per subscription, how many of `jobs` it saw end. */
const ask = (child: ChildProcess, jobs: string[] = []) =>
  new Promise<{ received: number; errors: number; closes: number[]; terminal: Record<string, number> }>((done) => {
    child.once('message', (m) => done(m as never));
    child.send({ report: true, jobs });
  });

describe('subscription fan-out under a hostile subscriber', () => {
  let t: TestGateway;
  let ssh: TestListener;
  beforeAll(async () => {
    t = await startTestGateway({ SCAN_LEASE_MS: '3000', SCAN_RETRY_BACKOFF_MS: '0' });
    ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3');
  });
  afterAll(async () => {
    await t?.stop();
    await ssh?.close();
  });

  it('200 subscriptions differing only by comments: the event loop never stalls and no scan runs twice', async () => {
    const closed = await closedPort();
    const hosts = await t.gateway.service.upsertHosts(ADMIN, {
      hosts: Array.from({ length: 998 }, (_, i) => ({ name: `flood-${i}-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed })),
    });
    const flood = await startFlood(t.url, appToken(), 20, 10);
    // Until the gateway holds all 200, or the flood was refused some (then it never will).
    for (const until = Date.now() + 30_000; t.gateway.sockets.activeSubscriptions < 200 && Date.now() < until; ) {
      const early = await ask(flood);
      expect(early.errors, 'error messages on the flood’s subscriptions').toBe(0);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(t.gateway.sockets.activeSubscriptions, 'the flood’s subscriptions the gateway holds').toBe(200);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    try {
      const res = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: hosts.map((h) => h.id) });
      expect(res.status).toBe(200);
      const ids: string[] = res.json.map((j: { id: string }) => j.id);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const depth = await t.gateway.store.queue.depth();
        if (depth.queued + depth.running === 0) break;
        if (Date.now() > deadline) throw new Error(`scans still queued or running after 60 s: ${JSON.stringify(depth)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      delay.disable();
      const jobs = await t.gateway.store.jobs.getJobs(ids);
      const attempts = jobs.flatMap((j) => j.scans.map((s) => s.attempts));
      // Fan-out may still be delivering the last changes: wait for every subscription to see every job end.
      let report = await ask(flood, ids);
      const seen = Date.now() + 30_000;
      while (Object.values(report.terminal).some((n) => n < ids.length) && report.errors === 0 && report.closes.length === 0 && Date.now() < seen) {
        await new Promise((r) => setTimeout(r, 100));
        report = await ask(flood, ids);
      }
      console.log(`event loop delay: max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms; messages ${report.received}`);
      expect(attempts.filter((a) => a !== 1)).toEqual([]);
      // Renewals every SCAN_LEASE_MS / 3: a third of the lease must still be left at the latest one.
      expect(t.gateway.runner.longestRenewalGapMs, 'the longest gap between lease renewals in ms').toBeLessThan(2000);
      expect(report.errors, 'error messages on the flood’s subscriptions').toBe(0);
      expect(report.closes, 'close codes of the flood’s sockets').toEqual([]);
      expect(Object.keys(report.terminal)).toHaveLength(200);
      const short = Object.entries(report.terminal).filter(([, n]) => n !== ids.length);
      expect(short, `subscriptions that did not see all ${ids.length} jobs end, as [subscription, jobs seen ending]`).toEqual([]);
      // Fan-out runs in 4 ms slices; what is left is garbage collection and the 998-job schedule call,
      // stretched by whatever else the machine runs (quiet: p99 ≈ 60 ms, max ≈ 300 ms). Unpaced, the same
      // load stalled the loop for 12 s: the bounds sit far from both, so a busy machine does not fail them.
      expect(delay.percentile(99) / 1e6, 'the 99th percentile of event-loop delay in ms').toBeLessThan(1_000);
      expect(delay.max / 1e6, 'the longest event-loop stall in ms').toBeLessThan(3_000);
    } finally {
      delay.disable();
      flood.send({ close: true });
    }
  }, 90_000);
});

describe('the cost limit', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({}, { runner: false });
    await t.gateway.service.upsertHosts(ADMIN, {
      hosts: Array.from({ length: 1000 }, (_, i) => ({ name: `cost-${i}-${'x'.repeat(200)}`, dnsHostName: `cost-${i}.example.test`, ipAddress: '127.0.0.1' })),
    });
  });
  afterAll(() => t?.stop());

  const aliases = (first: string) =>
    Array.from({ length: 15 }, (_, i) => `a${i}: hosts(first: ${first}) { nodes { id name dnsHostName ipAddress os version sshPort winRmPort lastScanTimeUtc } }`).join(' ');

  it('counts a variable `first` as its value: eight expensive requests at once are refused small and cheap', async () => {
    const rssBefore = process.memoryUsage().rss;
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => gql(t.url, appToken(), `query($n: Int) { ${aliases('$n')} }`, { n: 1000 })),
    );
    for (const reply of replies) {
      expect(reply.status).toBe(400);
      expect(reply.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(reply.body.errors[0].message).toMatch(/exceeds the limit of 50000/);
      expect(JSON.stringify(reply.body).length).toBeLessThan(2000);
    }
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('counts a literal `first` and an omitted one by its default, and lets cheap pages through', async () => {
    expect((await gql(t.url, appToken(), `{ ${aliases('1000')} }`)).status).toBe(400);
    const cheap = await gql(t.url, appToken(), `query($n: Int) { hosts(first: $n) { nodes { id } } }`, { n: 1000 });
    expect(cheap.status).toBe(200);
    expect(cheap.body.data.hosts.nodes).toHaveLength(1000);
    expect((await gql(t.url, appToken(), `{ ${aliases('1').replace(/\(first: 1\)/g, '')} }`)).status).toBe(200);
  });

  it('applies over the WebSocket too', async () => {
    const tight = await startTestGateway({ GRAPHQL_MAX_COST: '10' }, { runner: false });
    try {
      const s = await rawSocket(tight.url);
      s.send({ type: 'connection_init', payload: { token: appToken() } });
      expect((await s.next()).type).toBe('connection_ack');
      s.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { id status statusDescription hostScanHostStatus { name status os version failureReason } } }' } });
      expect(await s.next()).toMatchObject({ id: '1', type: 'error', payload: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
      s.ws.close();
    } finally {
      await tight.stop();
    }
  });
});

describe('tokens', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ JWT_MAX_AGE_S: '3' }, { runner: false });
  });
  afterAll(() => t?.stop());
  const list = (bearer: string) => call(`${t.url}/api/v1/HostScanJob`, { token: bearer });

  it('JWT_MAX_AGE_S ends a remembered token at the same moment it would refuse it new', async () => {
    const iat = Math.floor(Date.now() / 1000) - 30;
    // Issued 30 s ago: with the 30 s clock tolerance and a 3 s maximum age it is good for 2–3 more seconds.
    const endsAt = (iat + 30 + 3) * 1000;
    const aging = token({ roles: ['App'], iat });
    expect((await list(aging)).status).toBe(200);
    // Used again until refused: refused once its age passes, and not before (the cache once kept it to `exp`).
    const late = await until('the remembered token to be refused', async () => {
      const res = await list(aging);
      return res.status === 401 && { res, at: Date.now() };
    }, { everyMs: 100 });
    expect(late.at).toBeGreaterThanOrEqual(endsAt);
    expect(late.res.json.detail).toMatch(/older than this gateway accepts/);
  });

  it('refuses critical header parameters, an exp that never comes, and lifetimes over JWT_MAX_LIFETIME_S', async () => {
    const now = Math.floor(Date.now() / 1000);
    const crit = rawToken({ alg: 'HS256', typ: 'JWT', crit: ['x-bind'], 'x-bind': 'a' }, { sub: 'a', roles: ['App'], iat: now, exp: now + 60 });
    expect((await list(crit)).json.detail).toMatch(/critical header/);
    const forever = rawToken({ alg: 'HS256', typ: 'JWT' }, `{"sub":"a","roles":["App"],"iat":${now},"exp":1e999}`);
    expect((await list(forever)).status).toBe(401);
    const decade = token({ roles: ['App'], iat: now, exp: now + 10 * 365 * 86_400 });
    expect((await list(decade)).json.detail).toMatch(/longer lifetime/);
    expect((await list(token({ roles: ['App'], iat: now, exp: now + 3600 }))).status).toBe(200);
  });

  it('refuses subjects with control characters (they would reach the store)', async () => {
    const res = await call(`${t.url}/api/v1/HostScanJob`, { token: token({ roles: ['App'], sub: 'evil\u0000sub' }) });
    expect(res.status).toBe(401);
  });
});

// These reach the store, whose engine refuses them on its own terms: on both stores.
for (const backend of gatewayBackends) describe.skipIf(!backend.available)(`bad input that once was INTERNAL (${backend.name})`, () => {
  const gateway = gatewayOn(backend, {});
  const b64 = (text: string) => Buffer.from(text).toString('base64url');

  it.each([
    ['a host cursor with a non-UUID id', `{ hosts(after: "${b64(`host:${'-'.repeat(36)}:x`)}") { nodes { id } } }`, 'after'],
    ['a job cursor beyond bigint', `{ hostScanJobs(after: "${b64('job:9999999999999999999')}") { nodes { id } } }`, 'after'],
    ['a NUL in a search', `{ hosts(search: "a\\u0000b") { nodes { id } } }`, 'search'],
    ['a NUL in a host name', `mutation { upsertHosts(hosts: [{ name: "a\\u0000b" }]) { id } }`, '$[0].name'],
  ])('%s → BAD_INPUT, and nothing logged at error level', async (_name, query, key) => {
    const t = gateway();
    const before = t.logs.length;
    const res = await gql(t.url, adminToken(), query);
    expect(res.body.errors[0].extensions.code).toBe('BAD_INPUT');
    expect(Object.keys(res.body.errors[0].extensions.errors)).toEqual([key]);
    expect(t.logs.slice(before).filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });
});

describe('subscriptions and sockets', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ WS_MAX_SOCKETS_PER_SUBJECT: '2', WS_MAX_DOCUMENTS_PER_SUBJECT: '3' }, { runner: false });
  });
  afterAll(() => t?.stop());
  const open = async (bearer = appToken()) => {
    const s = await rawSocket(t.url);
    s.send({ type: 'connection_init', payload: { token: bearer } });
    return s;
  };

  it('a subscription ends with its socket, not at the next job event: the count and the socket slot are freed at once', async () => {
    const sockets = [await open(), await open()];
    for (const s of sockets) {
      expect((await s.next()).type).toBe('connection_ack');
      s.send({ id: 'all', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { id } }' } });
    }
    await until('both subscriptions to be active', () => t.gateway.sockets.activeSubscriptions === 2);
    for (const s of sockets) {
      s.ws.close();
      await s.closed;
    }
    await until('the subscriptions of closed sockets to end without a job event', () => t.gateway.sockets.activeSubscriptions === 0);
    const again = await open();
    expect((await again.next()).type).toBe('connection_ack');
    again.ws.close();
  });

  it('bounds distinct subscription documents per subject; comments, layout and jobIds do not make a new one', async () => {
    const s = await open();
    expect((await s.next()).type).toBe('connection_ack');
    const base = 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status } }';
    s.send({ id: 'a', type: 'subscribe', payload: { query: base } });
    s.send({ id: 'b', type: 'subscribe', payload: { query: `# a comment\n${base.replace(/ /g, '   ')}` } });
    s.send({ id: 'c', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { id status } }' } });
    s.send({ id: 'd', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { status } }' } });
    s.send({ id: 'e', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { id } }' } });
    s.send({ id: 'f', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { statusDescription } }' } });
    expect(await s.next()).toMatchObject({ id: 'f', type: 'error', payload: [{ extensions: { code: 'BAD_REQUEST' }, message: expect.stringMatching(/3 distinct subscriptions/) }] });
    s.ws.close();
  });

  it('bounds distinct subscription documents per instance (WS_MAX_DOCUMENTS) across subjects; a shared one is still served', async () => {
    const tight = await startTestGateway({ WS_MAX_DOCUMENTS: '2' }, { runner: false });
    const sockets: Awaited<ReturnType<typeof rawSocket>>[] = [];
    try {
      const connect = async (bearer: string) => {
        const s = await rawSocket(tight.url);
        sockets.push(s);
        s.send({ type: 'connection_init', payload: { token: bearer } });
        expect((await s.next()).type).toBe('connection_ack');
        return s;
      };
      const [a, b] = [await connect(appToken({ sub: 'subject-a' })), await connect(appToken({ sub: 'subject-b' }))];
      a.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { id } }' } });
      b.send({ id: '2', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { status } }' } });
      await until('two distinct subscriptions from two subjects', () => tight.gateway.sockets.activeSubscriptions === 2);
      // Within subject B's own bound (WS_MAX_DOCUMENTS_PER_SUBJECT is 10), but a third for the instance.
      b.send({ id: '3', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { statusDescription } }' } });
      const answer = await Promise.race([
        b.next(),
        new Promise((_, fail) => setTimeout(() => fail(new Error('no answer within 5 s to the instance’s third distinct document')), 5_000).unref()),
      ]);
      expect(answer).toMatchObject({
        id: '3',
        type: 'error',
        payload: [{ message: 'This instance serves as many distinct subscriptions as it allows; try again later or reuse a common one.', extensions: { code: 'UNAVAILABLE' } }],
      });
      b.send({ id: '4', type: 'subscribe', payload: { query: '# the same as A\'s\nsubscription { hostScanJobStatus { id } }' } });
      await until('B’s subscription to the document A already holds', () => tight.gateway.sockets.activeSubscriptions === 3);
    } finally {
      for (const s of sockets) s.ws.close();
      await tight.stop();
    }
  });

  it('refuses a socket to a token without a scan role before acknowledging it', async () => {
    const s = await open(token({ roles: ['Reviewer'] }));
    expect(await s.closed).toMatchObject({ code: 4403 });
    expect(s.ws.readyState).toBe(s.ws.CLOSED);
  });
});

describe('the data directory lock', () => {
  it('ignores a stale PID file, even one naming this very process', async () => {
    const dataDir = freshDataDir();
    writeFileSync(join(dataDir, 'gateway.pid'), String(process.pid));
    const t = await startTestGateway({}, { dataDir, runner: false });
    const second = await startTestGateway({}, { dataDir, runner: false }).catch((err: Error) => err);
    expect((second as Error).message).toMatch(/in use by another gateway/);
    await t.stop();
    const third = await startTestGateway({}, { dataDir, runner: false });
    await third.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('smaller holes', () => {
  let t: TestGateway;
  let prod: TestGateway;
  const prodToken = () => appToken({ iss: 'i', aud: 'a' });
  beforeAll(async () => {
    t = await startTestGateway({ HOSTS_FILE: hostsFile(), WS_MAX_PENDING_PER_ADDRESS: '5' }, { runner: false });
    prod = await startTestGateway({ NODE_ENV: 'production', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, { runner: false });
  });
  afterAll(async () => {
    await t?.stop();
    await prod?.stop();
  });

  it('persisted-query errors carry a code from the documented set', async () => {
    const post = (extensions: unknown, query?: string) => call(`${t.url}/graphql`, { token: appToken(), body: { query, extensions } });
    const cases = [
      await post({ persistedQuery: { version: 1, sha256Hash: 'abc' } }),
      await post({ persistedQuery: { version: 1, sha256Hash: 'abc' } }, '{ __typename }'),
      await post({ persistedQuery: { version: 2, sha256Hash: 'abc' } }),
    ];
    // Apollo's protocol: an unknown hash is a 200 telling the client to send the query with it.
    expect(cases.map((res) => [res.status, res.json.errors[0].extensions.code])).toEqual([
      [200, 'PERSISTED_QUERY_NOT_FOUND'],
      [400, 'BAD_REQUEST'],
      [400, 'BAD_REQUEST'],
    ]);
  });

  it('production validation messages name no field or type', async () => {
    const res = await call(`${prod.url}/graphql`, { token: prodToken(), body: { query: '{ secretThing hosts { nodes { nope } } }' } });
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: { message: string }) => e.message)).toEqual(['The operation does not match the schema.', 'The operation does not match the schema.']);
    expect(res.text).not.toMatch(/secretThing|nope|Query|Host/);
  });

  it('an over-long path parameter is a ProblemDetails 414', async () => {
    const res = await call(`${t.url}/api/v1/HostScanJob/${'a'.repeat(300)}`, { token: appToken() });
    expect(res.status).toBe(414);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.json).toMatchObject({ status: 414, title: 'URI Too Long', traceId: expect.any(String) });
  });

  it('a HOSTS_FILE that is not JSON is named, and none of its text reaches the log', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hosts-')), 'secrets.txt');
    writeFileSync(file, 'db_password=hunter2-very-secret\n');
    const failure = await startTestGateway({ HOSTS_FILE: file }, { runner: false }).catch((err: Error) => err);
    expect((failure as Error).message).toMatch(/^HOSTS_FILE is not valid JSON/);
    // The parser quotes the first ten characters it read.
    expect((failure as Error).message).not.toMatch(/hunter2|db_pa/);
  });

  it('an App token does not see the address a job was requested from; an Admin token does', async () => {
    const [job] = (await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: [HOSTS.alpha.id] })).json;
    const asApp = await call(`${t.url}/api/v1/HostScanJob/${job.id}`, { token: appToken() });
    const asAdmin = await call(`${t.url}/api/v1/HostScanJob/${job.id}`, { token: adminToken() });
    expect(asApp.json.createdFromAddress).toBeNull();
    expect(asAdmin.json.createdFromAddress).toMatch(/127\.0\.0\.1/);
    const gqlApp = await gql(t.url, appToken(), `{ hostScanJob(id: "${job.id}") { createdFromAddress createdByUserName } }`);
    expect(gqlApp.body.data.hostScanJob).toEqual({ createdFromAddress: null, createdByUserName: 'Ada Admin' });
  });

  it('caps sockets from one address that have not sent connection_init', async () => {
    const idle = await Promise.all(Array.from({ length: 5 }, () => rawSocket(t.url)));
    const refused = await rawSocket(t.url).then(
      () => 'opened',
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/429/);
    idle[0]!.send({ type: 'connection_init', payload: { token: appToken() } });
    expect((await idle[0]!.next()).type).toBe('connection_ack');
    const admitted = await rawSocket(t.url);
    for (const s of [...idle, admitted]) s.ws.close();
  });
});
