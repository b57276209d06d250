import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** The admin URL of the machine's PostgreSQL, or null (tests skip; global setup said so loudly). */
export const postgresAdminUrl = (): string | null => inject('postgresAdminUrl');

/** A fresh, empty database for one test file; `drop` removes it (and any connection still open to it). */
export async function createDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const admin = postgresAdminUrl();
  if (!admin) throw new Error('PostgreSQL is not available');
  const name = `scan_gateway_test_${Date.now()}_${randomBytes(4).toString('hex')}`;
  await withAdmin(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => withAdmin(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The stores a gateway test runs on: the embedded one always, PostgreSQL (a fresh database) when the machine has it. */
export const gatewayBackends = () => [
  { name: 'embedded', available: true, env: async () => ({ env: {} as Record<string, string>, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl() !== null,
    env: async () => {
      const db = await createDatabase();
      return { env: { DATABASE_URL: db.url } as Record<string, string>, drop: () => db.drop() };
    },
  },
];
