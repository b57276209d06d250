import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/auth';
import { startTestGateway, type TestGateway } from './support/gateway';
import { collect, gql, wsClient } from './support/graphql';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { adminToken, appToken } from './support/tokens';
import { gatewayBackends, gatewayOn } from './support/backends';
import { call } from './support/http';
import { countJobs } from './support/sql';
import { ADMIN } from './support/principals';

// What the dashboard reads beyond the vendor's shapes: a revision on every job state, so the page can
// keep the newest whatever order replies and events arrive in, and each host's last scan outcome.

describe('the fields the dashboard needs', () => {
  let t: TestGateway;
  let ssh: TestListener;
  const names = { up: `up-${randomUUID().slice(0, 8)}`, down: `down-${randomUUID().slice(0, 8)}` };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestGateway();
    ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3');
    const closed = await closedPort();
    const hosts = await t.gateway.service.upsertHosts(ADMIN, {
      hosts: [
        { name: names.up, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed },
        { name: names.down, ipAddress: '127.0.0.1', sshPort: closed, winRmPort: closed },
      ],
    });
    for (const h of hosts) ids[h.name] = h.id;
  });
  afterAll(async () => {
    await t?.stop();
    await ssh?.close();
  });

  it('every job state carries a revision that grows: mutation replies and subscription events alike', async () => {
    const client = wsClient(t.url, { token: adminToken() });
    const scheduled = await gql(t.url, adminToken(), 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id status revision } }', { ids: [ids[names.up]] });
    const [job] = scheduled.body.data.scheduleHostScans;
    expect(job).toMatchObject({ status: 'Queued', revision: 0 });
    const { done } = collect(client, 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status revision } }', { ids: [job.id] });
    const states = (await done).map((r) => r.data!.hostScanJobStatus as { status: string; revision: number });
    await client.dispose();
    expect(states.at(-1)).toMatchObject({ status: 'Complete' });
    const revisions = states.map((s) => s.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length);
    expect(revisions.at(-1)).toBeGreaterThan(0);
    const read = await gql(t.url, adminToken(), 'query($id: ID!) { hostScanJob(id: $id) { revision } }', { id: job.id });
    expect(read.body.data.hostScanJob.revision).toBe(revisions.at(-1));
  });

  it("hosts show how their last scan ended: null before the first, then Complete or Failed", async () => {
    const lastStatus = async () => {
      const res = await gql(t.url, adminToken(), 'query($s: String) { hosts(search: $s, first: 10) { nodes { name lastScanStatus } } }', { s: names.down.slice(0, 4) });
      return res.body.data.hosts.nodes.find((h: { name: string }) => h.name === names.down)?.lastScanStatus;
    };
    expect(await lastStatus()).toBeNull();
    await gql(t.url, adminToken(), 'mutation($ids: [ID!]!) { scheduleHostScans(hostIds: $ids) { id } }', { ids: [ids[names.down]] });
    await expect.poll(lastStatus, { timeout: 15_000 }).toBe('Failed');
    const up = await gql(t.url, adminToken(), 'query($id: ID!) { host(id: $id) { lastScanStatus } }', { id: ids[names.up] });
    expect(up.body.data.host.lastScanStatus).toBe('Complete');
  });
});

// The dashboard's CSV import: the file as text, every row checked by ValidateImportedCSV's own call, and
// nothing imported while a row is bad unless the good rows are asked for. It writes hosts and jobs through
// the store, so on both stores.
describe.each(gatewayBackends.filter((b) => b.available))('POST /api/v1/HostScanJob/ImportCSV on $name', (backend) => {
  const gateway = gatewayOn(backend, {});
  const tag = randomUUID().slice(0, 6);
  const importCsv = (body: unknown, tokenValue = adminToken()) => call(`${gateway().url}/api/v1/HostScanJob/ImportCSV`, { token: tokenValue, body });
  const hostNames = async () => {
    const res = await gql(gateway().url, adminToken(), 'query($s: String) { hosts(first: 100, search: $s) { nodes { name } } }', { s: tag });
    return (res.body.data.hosts.nodes as { name: string }[]).map((h) => h.name).sort();
  };
  // Line 3 is bad in its type (the command-line reader's check), line 5 only to the gateway (no such credential).
  const csv = [
    '\ufeffDNS Host Name,IP Address,SSH Port,Credential',
    `good-a-${tag},127.0.0.1,22,`,
    `bad-port-${tag},127.0.0.1,twenty-two,`,
    `good-b-${tag},127.0.0.1,2222,`,
    `bad-cred-${tag},127.0.0.1,22,no-such-credential-${tag}`,
  ].join('\r\n');

  it('reports every bad row by line and field and imports nothing, also when asked to import all', async () => {
    for (const body of [{ csv, checkOnly: true }, { csv }]) {
      const res = await importCsv(body);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ rows: 4, badRows: 2, imported: false, jobs: [] });
      expect(res.json.problems.map((p: { line: number; field: string }) => [p.line, p.field])).toEqual([[3, 'sshPort'], [5, 'credentialName']]);
      expect(res.json.problems[1].message).toBe(`No credential has the name 'no-such-credential-${tag}'.`);
    }
    expect(await hostNames()).toEqual([]);
    expect(await countJobs(gateway().gateway.store)).toBe(0);
  });

  it('imports only the good rows when asked, in one job and batch, and says which lines went', async () => {
    const res = await importCsv({ csv, importGood: true });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ rows: 4, badRows: 2, imported: true });
    expect(res.json.jobs).toEqual([{ id: expect.any(String), batchId: expect.any(String), hosts: 2, firstLine: 2, lastLine: 4 }]);
    expect(await hostNames()).toEqual([`good-a-${tag}`, `good-b-${tag}`]);
    const batch = await gql(gateway().url, adminToken(), 'query($id: ID!) { hostScanBatch(id: $id) { total queued } }', { id: res.json.jobs[0].batchId });
    expect(batch.body.data.hostScanBatch).toEqual({ total: 2, queued: 2 });
  });

  it('a bad header imports nothing even when the good rows are asked for', async () => {
    const res = await importCsv({ csv: `Colour,IP Address\nred,127.0.0.1\n`, importGood: true });
    expect(res.json).toMatchObject({ imported: false, jobs: [] });
    expect(res.json.problems[0]).toMatchObject({ line: 1, field: 'Colour' });
  });

  it('is for Admins (App: 403) and wants the file as text (400), changing nothing', async () => {
    const before = await countJobs(gateway().gateway.store);
    const app = await importCsv({ csv: `IP Address\n127.0.0.1\n` }, appToken());
    expect(app.status).toBe(403);
    for (const body of [{ csv: 7 }, { csv: 'IP Address\n127.0.0.1\n', importGood: 'yes' }, ['IP Address']]) {
      const res = await importCsv(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.errors).toBeDefined();
    }
    expect(await countJobs(gateway().gateway.store)).toBe(before);
  });
});
