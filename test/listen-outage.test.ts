import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway } from './support/child';
import { cancelReachesB, eventHealth, untilHealth } from './support/cross-instance';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { startTcpProxy } from './support/tcp-proxy';

const POLL_MS = 1_000;
// Room for a loaded machine (two cores shared with other test runs).
const MARGIN_MS = 5_000;

describe.skipIf(!postgresAdminUrl())('the LISTEN connection cut while two gateways run', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  it('is reported, the fallback poll carries a cancel on A to B meanwhile, and all is well once it is back', async () => {
    const db = await createDatabase();
    cleanup.push(() => db.drop());
    const admin = new URL(postgresAdminUrl()!);
    const proxy = await startTcpProxy(Number(admin.port || 5432), admin.hostname);
    cleanup.push(() => proxy.close());
    const listenUrl = new URL(db.url);
    listenUrl.host = `127.0.0.1:${proxy.port}`;
    const env = {
      DATABASE_URL: db.url, DATABASE_LISTEN_URL: listenUrl.toString(), SCAN_CONCURRENCY: '2', SCAN_LEASE_MS: '3000',
      SCAN_TIMEOUT_MS: '60000', EVENTS_POLL_MS: String(POLL_MS), EVENTS_CHECK_MS: '1000',
    };
    const a = await spawnGateway(env);
    const b = await spawnGateway(env);
    cleanup.push(() => Promise.all([a, b].map((c) => (c.child.kill('SIGKILL'), c.exited))));
    expect((await eventHealth(b)).body).toEqual({ status: 'ready' });

    proxy.cut();
    const deaf = await untilHealth(b, (h) => h.deaf === 1 && h.body.status === 'degraded', 10_000);
    expect(deaf.body.status).toBe('degraded');
    expect(deaf.body.reason).toMatch(/PostgreSQL LISTEN/);
    await cancelReachesB(a, b, db.url, 'cut', POLL_MS + MARGIN_MS);

    proxy.restore();
    // The LISTEN reconnect backs off up to 5 s; then the probe comes back.
    expect((await untilHealth(b, (h) => h.deaf === 0 && h.body.status === 'ready', 20_000)).body).toEqual({ status: 'ready' });
    // The poll reads what was missed, then stops and says so (the warning when deafness began also says
    // "heard again", so the line is matched by its ending).
    const stopped = Date.now() + 10_000;
    while (!b.lines.some((l) => l.includes('heard again; the fallback poll stopped'))) {
      expect(Date.now(), 'waiting for the fallback poll to stop').toBeLessThan(stopped);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 90_000);
});
