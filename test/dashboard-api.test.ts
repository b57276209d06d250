import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../src/auth';
import { startTestGateway, type TestGateway } from './support/gateway';
import { collect, gql, wsClient } from './support/graphql';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { adminToken } from './support/tokens';

// What the dashboard reads beyond the vendor's shapes: a revision on every job state, so the page can
// keep the newest whatever order replies and events arrive in, and each host's last scan outcome.

const ADMIN: Principal = { subject: 'setup', userName: 'setup', roles: new Set(['Admin']), expiresAt: Date.now() + 3.6e6 };

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
