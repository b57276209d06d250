import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayBackends } from './support/backends';
import { startTestGateway, type TestGateway } from './support/gateway';
import { collect, gql, wsClient } from './support/graphql';
import { call } from './support/http';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { ADMIN } from './support/principals';
import { adminToken, appToken } from './support/tokens';

// One caller's large batch must not starve another caller's single-host scan. Judged by counts in the
// store (how much of the batch had run when the single scan completed), never by wall-clock time.

const BATCH = 2_000;
/** Batch scans allowed to finish before the single one: a lease round is a handful (2 slots, 2 read ahead). */
const AHEAD_AT_MOST = 100;
const COUNTS = 'total queued running paused complete failed cancelled';

let ssh: TestListener;
let closed: number;
beforeAll(async () => {
  // Each scan holds one of two slots for 200 ms: the batch would take minutes, the single scan is one scan.
  ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { delayMs: 200 });
  closed = await closedPort();
});
afterAll(() => ssh.close());

for (const backend of gatewayBackends) {
  describe.skipIf(!backend.available)(`fairness between callers: ${backend.name}`, () => {
    let t: TestGateway;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      const { env, drop: d } = await backend.env();
      drop = d;
      t = await startTestGateway({ ...env, SCAN_CONCURRENCY: '2', MAX_HOST_IDS: String(BATCH), SHUTDOWN_DRAIN_MS: '0' });
    });
    afterAll(async () => {
      await t?.stop();
      await drop?.();
    });

    const newHosts = async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i += 500) {
        const hosts = Array.from({ length: Math.min(500, n - i) }, () => ({ name: `fair-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed }));
        ids.push(...(await t.gateway.service.upsertHosts(ADMIN, { hosts })).map((h) => h.id));
      }
      return ids;
    };
    const schedule = async (hostIds: string[], bearer: string) => {
      const res = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: bearer, body: hostIds });
      expect(res.status).toBe(200);
      return { batchId: res.headers.get('x-hostscan-batch-id')!, jobIds: (res.json as { id: string }[]).map((j) => j.id) };
    };
    const counts = async (batchId: string) =>
      (await gql(t.url, adminToken(), `query($id: ID!) { hostScanBatch(id: $id) { ${COUNTS} } }`, { id: batchId })).body.data.hostScanBatch;

    it(`completes another caller's single-host scan while a ${BATCH}-host batch is still queued`, { timeout: 300_000 }, async () => {
      const [batchHosts, [singleHost]] = [await newHosts(BATCH), await newHosts(1)];
      const batch = await schedule(batchHosts, adminToken());
      expect(batch.jobIds).toHaveLength(BATCH);
      // The batch is under way (leased and running) before the other caller asks.
      const deadline = Date.now() + 120_000;
      for (let c = await counts(batch.batchId); c.complete + c.failed === 0; c = await counts(batch.batchId)) {
        if (Date.now() > deadline) throw new Error(`waited 120 s for the batch's first scan to finish: ${JSON.stringify(c)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const single = await schedule([singleHost!], appToken());
      const client = wsClient(t.url, { Authorization: `Bearer ${appToken()}` });
      const watched = collect(client, 'subscription($ids: [ID!]) { hostScanJobStatus(jobIds: $ids) { id status } }', { ids: single.jobIds });
      let completed = false;
      void watched.done.then(() => (completed = true), () => {});
      // Wait for the single scan to complete, or for the batch to run well past one lease round without it.
      const runOn = Date.now() + 120_000;
      let seen = await counts(batch.batchId);
      while (!completed && seen.complete + seen.failed <= AHEAD_AT_MOST) {
        if (Date.now() > runOn) throw new Error(`waited 120 s more for the single-host scan or for the batch to run on: ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 100));
        seen = await counts(batch.batchId);
      }
      expect(completed, `the single-host scan had not completed when ${seen.complete + seen.failed} of the batch's ${BATCH} scans had finished`).toBe(true);
      expect((await watched.done).at(-1)!.data.hostScanJobStatus.status).toBe('Complete');
      const after = await counts(batch.batchId);
      expect(after.queued).toBeGreaterThan(BATCH - AHEAD_AT_MOST - 10);
      await client.dispose();
      // Left running, the batch would hold the gateway's stop; pausing it ends the test's work.
      await gql(t.url, adminToken(), `mutation($id: ID!) { pauseHostScanBatch(id: $id) { total } }`, { id: batch.batchId });
    });
  });
}
