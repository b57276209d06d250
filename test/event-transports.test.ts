import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS } from './support/brokers';
import { spawnGateway, type ChildGateway } from './support/child';
import { cancelReachesB, eventHealth, untilHealth, watchJobs } from './support/cross-instance';
import { call } from './support/http';
import { closedPort, sshListener, type TestListener } from './support/listeners';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { adminToken } from './support/tokens';
import { until } from './support/wait';

const token = adminToken();
// Room for a loaded machine; far below the 60 s fallback poll these gateways run with.
const MARGIN_MS = 5_000;
const PASSWORD = 'never-shown-2c9e';

for (const broker of BROKERS) {
  describe.skipIf(!postgresAdminUrl() || !broker.available())(`two gateways with EVENTS_URL=${broker.name}://…`, () => {
    const cleanup: (() => Promise<unknown>)[] = [];
    afterAll(async () => {
      for (const c of cleanup.reverse()) await c().catch(() => {});
    });

    it(`refuse to start when ${broker.name} does not answer, naming EVENTS_URL and no password`, async () => {
      const db = await createDatabase();
      cleanup.push(() => db.drop());
      const url = `${broker.name}://user:${PASSWORD}@127.0.0.1:${await closedPort()}`;
      const started = spawnGateway({ DATABASE_URL: db.url, EVENTS_URL: url });
      const error = await started.then(() => null, (err: Error) => err.message);
      expect(error).toMatch(/exited \(1\) before listening/);
      expect(error).toContain('EVENTS_URL: could not connect to');
      expect(error).not.toContain(PASSWORD);
    }, 60_000);

    it(`carry a cancel on A to B over ${broker.name} (which requires a password), and lose no change while it restarts`, async () => {
      const db = await createDatabase();
      cleanup.push(() => db.drop());
      const events = await broker.start({ password: PASSWORD });
      expect(events.url).toContain(PASSWORD);
      cleanup.push(() => events.stop());
      const env = {
        DATABASE_URL: db.url, EVENTS_URL: events.url, SCAN_CONCURRENCY: '10', SCAN_LEASE_MS: '3000', SCAN_TIMEOUT_MS: '60000',
        EVENTS_CHECK_MS: '500',
        // A poll this slow cannot be what delivers the cancel in time; after an outage the catch-up
        // sweep (at once when the broker is heard again) must bring what was missed.
        EVENTS_POLL_MS: '60000',
      };
      const a = await spawnGateway(env);
      const b = await spawnGateway(env);
      const both: ChildGateway[] = [a, b];
      cleanup.push(() => Promise.all(both.map((c) => (c.child.kill('SIGKILL'), c.exited))));
      for (const g of [a, b]) {
        const health = await eventHealth(g);
        expect(health.body).toEqual({ status: 'ready' });
        expect(health.deaf).toBe(0);
        expect(g.lines.join('\n')).not.toContain('pg_notify');
      }

      await cancelReachesB(a, b, db.url, `${broker.name}-cancel`, MARGIN_MS);

      // Scans that finish one by one over about 6 s, on both instances; the broker is down for 2 s of it.
      const closed = await closedPort();
      const listeners: TestListener[] = await Promise.all(
        Array.from({ length: 20 }, (_, i) => sshListener('SSH-2.0-OpenSSH_9.2p1', { delayMs: 300 * i })),
      );
      cleanup.push(() => Promise.all(listeners.map((l) => l.close())));
      const upsert = await call(`${a.url}/graphql`, {
        token,
        body: {
          query: 'mutation($h: [HostInput!]!) { upsertHosts(hosts: $h) { id } }',
          variables: { h: listeners.map((l, i) => ({ name: `${broker.name}-slow-${i}`, ipAddress: '127.0.0.1', sshPort: l.port, winRmPort: closed })) },
        },
      });
      const scheduled = await call(`${a.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: upsert.json.data.upsertHosts.map((h: { id: string }) => h.id) });
      const jobIds: string[] = scheduled.json.map((j: { id: string }) => j.id);
      const watch = watchJobs(b, jobIds);
      cleanup.push(async () => watch.dispose());
      // B's subscription is live once it has handed over each job's current state.
      await until('B to send the current state of every job', () => jobIds.every((id) => watch.seen.has(id)));
      // B's readiness and metrics while the broker is down: the reason names the broker, never its password.
      const restarted = events.restart(2_000);
      let down = true;
      void restarted.finally(() => (down = false));
      const duringOutage: string[] = [];
      while (down) {
        const health = await eventHealth(b);
        duringOutage.push(JSON.stringify(health.body) + (await call(`${b.url}/metrics`)).text);
        await new Promise((r) => setTimeout(r, 100));
      }
      await restarted;
      const back = Date.now();
      expect(duringOutage.some((h) => h.includes('"degraded"') && h.includes(`127.0.0.1:${new URL(events.url).port}`)), 'B reported the outage').toBe(true);

      await watch.settled(45_000, `every job Complete across a ${broker.name} restart`).catch((err: Error) => {
        throw new Error(`${err.message}\nB wrote:\n${b.lines.slice(-30).join('\n')}`);
      });
      // What was missed is read once the broker is heard again (EVENTS_CHECK_MS), not at the next 60 s poll.
      expect(Date.now() - back).toBeLessThan(20_000);
      for (const id of jobIds) expect(watch.seen.get(id)?.at(-1)?.status).toBe('Complete');
      // B noticed the outage, said so, and is well again.
      expect(b.lines.some((l) => l.includes('"level":40') && l.includes('may go unheard'))).toBe(true);
      expect((await untilHealth(b, (h) => h.deaf === 0 && h.body.status === 'ready', 20_000)).body).toEqual({ status: 'ready' });

      // The password reached the broker (it answered) but nothing the gateways show.
      const shown = [...duringOutage, ...a.lines, ...b.lines];
      for (const g of [a, b]) shown.push(JSON.stringify((await eventHealth(g)).body), (await call(`${g.url}/metrics`)).text);
      expect(shown.filter((s) => s.includes(PASSWORD))).toEqual([]);
    }, 90_000);
  });
}
