import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../src/model';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { collect, gql, rawSocket, wsClient } from './support/graphql';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { adminToken, appToken, token } from './support/tokens';
import { sqlOf } from './support/sql';
import { fakeJob } from './support/jobs';
import { until } from './support/wait';

const WATCH = 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status statusDescription hostScanHostStatus { status os version } } }';

let t: TestGateway;
let ssh: TestListener;
let closed: number;
beforeAll(async () => {
  t = await startTestGateway({ SCAN_TIMEOUT_MS: '10000' });
  ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 400 });
  closed = await closedPort();
});
afterAll(async () => {
  await t.stop();
  await ssh.close();
});

async function newHost() {
  const [h] = await t.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: `ws-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed }] });
  return h!;
}
const schedule = async (hostId: string) =>
  (await gql(t.url, adminToken(), `mutation { scheduleHostScans(hostIds: ["${hostId}"]) { id } }`)).body.data.scheduleHostScans[0].id as string;

describe('hostScanJobStatus with the graphql-ws client', () => {
  it('without ids: sees a job go Queued → Running → Complete', async () => {
    const client = wsClient(t.url, { Authorization: `Bearer ${appToken()}` });
    const seen = new Map<string, string[]>();
    let watched = '';
    let resolveDone: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const stop = client.subscribe({ query: WATCH }, {
      next: (r: any) => {
        const job = r.data.hostScanJobStatus;
        seen.set(job.id, [...(seen.get(job.id) ?? []), job.status]);
        if (job.id === watched && job.status === 'Complete') resolveDone();
      },
      error: () => {},
      complete: () => {},
    });
    await new Promise((r) => setTimeout(r, 100));
    watched = await schedule((await newHost()).id);
    if (seen.get(watched)?.includes('Complete')) resolveDone!();
    await done;
    expect(seen.get(watched)).toEqual(['Queued', 'Running', 'Complete']);
    stop();
    await client.dispose();
  });

  it('with ids: the current state first, then changes, completing when terminal', async () => {
    const client = wsClient(t.url, { authorization: `Bearer ${adminToken()}` });
    const jobId = await schedule((await newHost()).id);
    const results = await collect(client, WATCH, { ids: [jobId] }).done;
    const states = results.map((r) => r.data.hostScanJobStatus);
    expect(states.at(-1)).toMatchObject({ id: jobId, status: 'Complete', hostScanHostStatus: [{ status: 'Complete', os: 'Debian', version: '12' }] });
    expect(['Queued', 'Running']).toContain(states[0].status);
    const again = await collect(client, WATCH, { ids: [jobId] }).done;
    expect(again.map((r) => r.data.hostScanJobStatus.status)).toEqual(['Complete']);
    await client.dispose();
  });

  it('unknown ids end the subscription with the service error; a token without a scan role gets no socket', async () => {
    const client = wsClient(t.url, { token: adminToken() });
    const unknown = await collect(client, WATCH, { ids: [randomUUID()] }).done;
    expect(unknown).toEqual([{ errors: [expect.objectContaining({ extensions: { code: 'NOT_FOUND' } })] }]);
    // Bad ids are named as job ids (the list check once said "host ids" for them too).
    const none = await collect(client, WATCH, { ids: [] }).done;
    expect(none).toMatchObject([{ errors: [{ message: '$: At least one job id is required.', extensions: { code: 'BAD_INPUT' } }] }]);
    const reviewer = wsClient(t.url, { token: token({ roles: ['Reviewer'] }) });
    const refused = await collect(reviewer, WATCH).done.catch((event: { code: number }) => event);
    expect(refused).toMatchObject({ code: 4403 });
    await client.dispose();
    await reviewer.dispose();
  });
});

describe('the graphql-transport-ws protocol with a raw socket', () => {
  const init = (s: Awaited<ReturnType<typeof rawSocket>>, payload: unknown = { token: adminToken() }) => s.send({ type: 'connection_init', payload });

  it('4403 for a missing or bad token', async () => {
    for (const payload of [{}, { token: 'nope' }, { Authorization: `Bearer ${token({ roles: ['Admin'] }, { secret: 'x'.repeat(40) })}` }, null]) {
      const s = await rawSocket(t.url);
      init(s, payload);
      expect((await s.closed).code).toBe(4403);
    }
  });

  it('4400 for a message that is not JSON', async () => {
    const s = await rawSocket(t.url);
    init(s);
    expect((await s.next()).type).toBe('connection_ack');
    s.send('{ not json');
    expect((await s.closed).code).toBe(4400);
  });

  it('4400, not 4500, for a message only a server may send (found by the fuzz suite)', async () => {
    const s = await rawSocket(t.url);
    init(s);
    await s.next();
    s.send({ id: 'x', type: 'next', payload: { data: {} } });
    expect((await s.closed).code).toBe(4400);
  });

  it('4401 for subscribe before the acknowledgement', async () => {
    const s = await rawSocket(t.url);
    s.send({ id: '1', type: 'subscribe', payload: { query: WATCH } });
    expect((await s.closed).code).toBe(4401);
  });

  it('4408 when no connection_init arrives within 3 s', async () => {
    const s = await rawSocket(t.url);
    expect((await s.closed).code).toBe(4408);
  });

  it('4409 for a second subscription with an id in use', async () => {
    const s = await rawSocket(t.url);
    init(s);
    await s.next();
    s.send({ id: 'a', type: 'subscribe', payload: { query: WATCH } });
    s.send({ id: 'a', type: 'subscribe', payload: { query: WATCH } });
    expect((await s.closed).code).toBe(4409);
  });

  it('4429 for a second connection_init', async () => {
    const s = await rawSocket(t.url);
    init(s);
    await s.next();
    init(s);
    expect((await s.closed).code).toBe(4429);
  });

  it('4406 without the graphql-transport-ws subprotocol', async () => {
    const s = await rawSocket(t.url, null);
    expect((await s.closed).code).toBe(4406);
  });

  it('1009 for a message over 64 KiB', async () => {
    const s = await rawSocket(t.url);
    init(s);
    await s.next();
    s.send({ id: 'big', type: 'subscribe', payload: { query: `${WATCH}#${'x'.repeat(70_000)}` } });
    expect((await s.closed).code).toBe(1009);
  });

  it('refuses queries and mutations over the socket and schedules nothing', async () => {
    const host = await newHost();
    const s = await rawSocket(t.url);
    init(s);
    await s.next();
    s.send({ id: 'm', type: 'subscribe', payload: { query: `mutation { scheduleHostScans(hostIds: ["${host.id}"]) { id } }` } });
    const refused = await s.next();
    expect(refused).toMatchObject({ id: 'm', type: 'error', payload: [{ extensions: { code: 'BAD_REQUEST' } }] });
    expect(refused.payload[0].message).toMatch(/Only subscriptions/);
    s.send({ id: 'q', type: 'subscribe', payload: { query: '{ hosts { nodes { id } } }' } });
    expect(await s.next()).toMatchObject({ id: 'q', type: 'error' });
    const rows = await sqlOf(t.gateway.store).query('SELECT 1 FROM host_scans WHERE host_id = $1', [host.id]);
    expect(rows).toHaveLength(0);
    s.ws.close();
  });

  it(`caps subscriptions per socket, and a full socket leaks no listeners`, async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const s = await rawSocket(t.url);
    init(s);
    await s.next();
    for (let i = 0; i < 10; i++) s.send({ id: `s${i}`, type: 'subscribe', payload: { query: WATCH } });
    s.send({ id: 'eleventh', type: 'subscribe', payload: { query: WATCH } });
    const refused = await s.next();
    expect(refused).toMatchObject({ id: 'eleventh', type: 'error', payload: [{ message: expect.stringMatching(/already holds 10/) }] });
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    process.off('warning', onWarning);
    // One 'close' listener per subscription once made Node warn of a leak with ten on a socket.
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    s.ws.close();
  });

  it('closes with 1013 (try again later) beyond WS_MAX_SOCKETS_PER_SUBJECT sockets of one subject, and frees the slot on close', async () => {
    const capped = await startTestGateway({ WS_MAX_SOCKETS_PER_SUBJECT: '2' }, { runner: false });
    const mine = token({ roles: ['App'], sub: 'busy-robot' });
    const open = async (bearer: string) => {
      const s = await rawSocket(capped.url);
      init(s, { token: bearer });
      return s;
    };
    const [a, b] = [await open(mine), await open(mine)];
    expect((await a.next()).type).toBe('connection_ack');
    expect((await b.next()).type).toBe('connection_ack');
    const third = await open(mine);
    expect((await third.closed).code).toBe(1013);
    const other = await open(token({ roles: ['App'], sub: 'someone-else' }));
    expect((await other.next()).type).toBe('connection_ack');
    a.ws.close();
    await a.closed;
    const again = await open(mine);
    expect((await again.next()).type).toBe('connection_ack');
    for (const s of [b, other, again]) s.ws.close();
    await capped.stop();
  });

  it('closes the socket with 4403 when the token expires', async () => {
    const s = await rawSocket(t.url);
    init(s, { token: token({ roles: ['App'], exp: Math.floor(Date.now() / 1000) + 2 }) });
    expect((await s.next()).type).toBe('connection_ack');
    const started = Date.now();
    expect(await s.closed).toEqual({ code: 4403, reason: 'Token expired' });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('applies the validation limits and error masking over the socket', async () => {
    const limited = await startTestGateway({ GRAPHQL_MAX_DEPTH: '2', NODE_ENV: 'production', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, { runner: false });
    const s = await rawSocket(limited.url);
    init(s, { token: token({ roles: ['Admin'], iss: 'i', aud: 'a' }) });
    await s.next();
    s.send({ id: 'd', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { hostScanHostStatus { name } } }' } });
    expect(await s.next()).toMatchObject({ id: 'd', type: 'error', payload: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    s.send({ id: 'i', type: 'subscribe', payload: { query: 'subscription { __schema { types { name } } }' } });
    const intro = await s.next();
    expect(intro).toMatchObject({ id: 'i', type: 'error' });
    s.send({ id: 't', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { idd } }' } });
    expect(JSON.stringify(await s.next())).not.toMatch(/Did you mean/);
    s.ws.close();
    await limited.stop();
  });
});

describe('shutdown', () => {
  it('closes every socket with 1001', async () => {
    const g = await startTestGateway({}, { runner: false });
    const s = await rawSocket(g.url);
    s.send({ type: 'connection_init', payload: { token: adminToken() } });
    await s.next();
    await g.stop();
    expect((await s.closed).code).toBe(1001);
  });
});

describe('a subscriber that stops reading', () => {
  it('cannot crash the process or grow memory without bound, and others keep receiving', async () => {
    const stalled = await rawSocket(t.url);
    stalled.send({ type: 'connection_init', payload: { token: adminToken() } });
    await stalled.next();
    const listenersBefore = t.gateway.events.listenerCount;
    stalled.send({ id: 'all', type: 'subscribe', payload: { query: 'subscription { hostScanJobStatus { id statusDescription hostScanHostStatus { name statusDescription } } }' } });
    await until("the stalled reader's subscription to listen", () => t.gateway.events.listenerCount > listenersBefore);
    (stalled.ws as any)._socket.pause();

    const healthy = wsClient(t.url, { token: appToken() });
    const jobId = await schedule((await newHost()).id);
    const watched = collect(healthy, WATCH, { ids: [jobId] });

    const padding = 'x'.repeat(200);
    for (let batch = 0; batch < 20; batch++) {
      const jobs: Job[] = Array.from({ length: 100 }, (_, i) => fakeJob(`${batch}-${i}`, { padding }));
      t.gateway.events.publish(jobs);
      await new Promise((r) => setImmediate(r));
    }
    const results = await watched.done;
    expect(results.at(-1)!.data.hostScanJobStatus.status).toBe('Complete');
    // The stalled reader was cut off: its stream no longer listens, so nothing more piles up for it.
    await until("the stalled reader's stream to be cut off", () => t.gateway.events.listenerCount <= listenersBefore);
    // Reading again, it finds what was already on its way, then the cut-off: UNAVAILABLE, and fewer
    // states than were published (an unbounded buffer would hand over all 2,000 and no error).
    (stalled.ws as any)._socket.resume();
    let states = 0;
    let cutOff: any = null;
    for (;;) {
      const m = await stalled.next();
      if (m.type !== 'next') {
        expect(m).toEqual({ id: 'all', type: 'complete' });
        break;
      }
      if (m.payload.errors) cutOff = m.payload;
      else states++;
    }
    expect(cutOff).toMatchObject({ errors: [{ extensions: { code: 'UNAVAILABLE' } }] });
    expect(states).toBeLessThan(2_000);
    expect((await fetch(`${t.url}/health/live`)).status).toBe(200);
    stalled.ws.terminate();
    await healthy.dispose();
  }, 30_000);
});
