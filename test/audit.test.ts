import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, postgresAdminUrl } from './support/postgres';
import { freshDataDir, startTestGateway, type TestGateway } from './support/gateway';
import { gql } from './support/graphql';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { countJobs, sqlOf } from './support/sql';
import { adminToken, appToken } from './support/tokens';

// The audit trail: every change with who, from where and under which trace, written in the change's own
// transaction; readable by Admin only.

const backends = [
  { name: 'embedded', available: true, env: async () => ({ env: {}, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl() !== null,
    env: async () => {
      const db = await createDatabase();
      return { env: { DATABASE_URL: db.url }, drop: () => db.drop() };
    },
  },
];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the audit trail (${backend.name})`, () => {
    let t: TestGateway;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      const { env, drop: d } = await backend.env();
      drop = d;
      t = await startTestGateway({ HOSTS_FILE: hostsFile(), ...env }, { runner: false });
    });
    afterAll(async () => {
      await t?.stop();
      await drop?.();
    });

    it('records schedule, cancel and host writes with subject, roles, address and the trace id', async () => {
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const scheduled = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: appToken(), body: [HOSTS.beta.id], headers: { traceparent } });
      const jobId = scheduled.json[0].id;
      await call(`${t.url}/api/v1/HostScanJob/${jobId}`, { method: 'DELETE', token: adminToken() });
      await gql(t.url, adminToken(), `mutation { upsertHosts(hosts: [{ name: "audited", ipAddress: "127.0.0.9" }]) { id } }`);
      const records = (await gql(t.url, adminToken(), '{ auditRecords(first: 10) { nodes { action subject roles address traceId target details } } }')).body.data.auditRecords.nodes;
      expect(records.map((r: { action: string }) => r.action).slice(0, 3)).toEqual(['hosts.upsert', 'job.cancel', 'jobs.schedule']);
      const schedule = records.find((r: { action: string }) => r.action === 'jobs.schedule');
      expect(schedule).toMatchObject({ subject: 'app-1', roles: ['App'], address: expect.stringMatching(/127\.0\.0\.1/), target: jobId, details: { hosts: 1, newJobs: 1 } });
      expect(schedule.traceId).toContain('0af7651916cd43dd8448eb211c80319c');
      expect(records.find((r: { action: string }) => r.action === 'hosts.upsert').details).toMatchObject({ names: ['audited'], count: 1 });
    });

    it('is the Admin\'s to read, filtered and exported as NDJSON', async () => {
      expect((await gql(t.url, appToken(), '{ auditRecords { nodes { id } } }')).body.errors[0].extensions.code).toBe('FORBIDDEN');
      const filtered = (await gql(t.url, adminToken(), '{ auditRecords(action: "job.cancel") { nodes { action } } }')).body.data.auditRecords.nodes;
      expect(filtered.every((r: { action: string }) => r.action === 'job.cancel')).toBe(true);
      expect((await call(`${t.url}/api/v1/audit/export`, { token: appToken() })).status).toBe(403);
      const exported = await call(`${t.url}/api/v1/audit/export?action=jobs.schedule`, { token: adminToken() });
      expect(exported.headers.get('content-type')).toMatch(/application\/x-ndjson/);
      const lines = exported.text.trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every((r: { action: string }) => r.action === 'jobs.schedule')).toBe(true);
      expect((await call(`${t.url}/api/v1/audit/export?since=yesterday`, { token: adminToken() })).status).toBe(400);
    });

    it('writes the record in the change\'s own transaction: when the record cannot be written, nothing changes', async () => {
      const db = sqlOf(t.gateway.store);
      await db.exec(`CREATE FUNCTION refuse_schedule_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.action = 'jobs.schedule' THEN RAISE EXCEPTION 'audit unavailable'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_schedule_audit BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION refuse_schedule_audit();`);
      try {
        const before = await countJobs(t.gateway.store);
        const res = await call(`${t.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: [HOSTS.gamma.id] });
        expect(res.status).toBe(500);
        expect(await countJobs(t.gateway.store)).toBe(before);
      } finally {
        await db.exec('DROP TRIGGER refuse_schedule_audit ON audit_records; DROP FUNCTION refuse_schedule_audit();');
      }
    });

    it('records the HOSTS_FILE seed at start as system:hosts-file, only when it changed something', async () => {
      const { env, drop: dropOwn } = await backend.env();
      const dataDir = freshDataDir();
      const seeded = async (file: string) => {
        const g = await startTestGateway({ HOSTS_FILE: file, ...env }, { runner: false, dataDir });
        try {
          const query = '{ auditRecords(subject: "system:hosts-file") { nodes { action subject roles address target details } } }';
          return (await gql(g.url, adminToken(), query)).body.data.auditRecords.nodes;
        } finally {
          await g.stop();
        }
      };
      try {
        const first = await seeded(hostsFile());
        expect(first).toEqual([{
          action: 'hosts.upsert', subject: 'system:hosts-file', roles: [], address: null,
          target: Object.values(HOSTS).map((h) => h.id).join(','),
          details: { source: 'HOSTS_FILE', names: ['alpha', 'beta', 'gamma'], count: 3 },
        }]);
        // The same hosts again: nothing changed, nothing recorded.
        expect(await seeded(hostsFile())).toHaveLength(1);
        const moved = await seeded(hostsFile([HOSTS.alpha, { ...HOSTS.beta, ipAddress: '127.0.0.42' }, HOSTS.gamma]));
        expect(moved).toHaveLength(2);
        expect(moved[0]).toMatchObject({ target: HOSTS.beta.id, details: { names: ['beta'], count: 1 } });
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
        await dropOwn();
      }
    });

    it('is append-only', async () => {
      await expect(sqlOf(t.gateway.store).query(`UPDATE audit_records SET subject = 'someone else'`)).rejects.toThrow(/append-only/);
    });
  });
}
