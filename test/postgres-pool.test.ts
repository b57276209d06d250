import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startTestGateway } from './support/gateway';
import { call } from './support/http';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { adminToken } from './support/tokens';

const token = adminToken();

describe.skipIf(!postgresAdminUrl())('DATABASE_POOL_SIZE', () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let admin: pg.Client;
  beforeAll(async () => {
    db = await createDatabase();
    admin = new pg.Client({ connectionString: postgresAdminUrl()! });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await db.drop();
  });

  /**
   * Connections the gateway holds to its database after a burst of 60 concurrent schedule calls (each a
   * transaction, which keeps its connection across several round trips; unknown ids, so nothing is written).
   * Each names 200 hosts: calls that large run in transactions of their own, never grouped with others.
   */
  async function connectionsAfterBurst(poolSize: number): Promise<number> {
    const t = await startTestGateway({ DATABASE_URL: db.url, DATABASE_POOL_SIZE: String(poolSize) }, { runner: false });
    try {
      const answers = await Promise.all(Array.from({ length: 60 }, () =>
        call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: Array.from({ length: 200 }, () => randomUUID()) })));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 400));
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [db.name]);
      return rows[0]!.n;
    } finally {
      await t.stop();
    }
  }

  it('bounds the connections each instance opens (the pool, plus one for LISTEN)', async () => {
    expect(await connectionsAfterBurst(2)).toBeLessThanOrEqual(3);
    // The same burst opens more with a larger pool, so the bound above is the setting at work.
    expect(await connectionsAfterBurst(8)).toBeGreaterThan(3);
  });
});
