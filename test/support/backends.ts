import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { startTestGateway, type TestGateway } from './gateway';
import { createDatabase, postgresAdminUrl } from './postgres';

/** The two stores a test gateway can run on: the operator variables each needs, and how to clean up. */
export const gatewayBackends = [
  { name: 'embedded (PGlite)', available: true, env: async () => ({ env: {} as Record<string, string>, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl() !== null,
    env: async () => {
      const db = await createDatabase();
      return { env: { DATABASE_URL: db.url, CREDENTIALS_KEY: randomBytes(32).toString('hex') } as Record<string, string>, drop: db.drop };
    },
  },
];

/** Start a gateway on `backend` before the enclosing describe's tests and stop it after; read it with the getter. */
export function gatewayOn(backend: (typeof gatewayBackends)[number], env: Record<string, string>): () => TestGateway {
  let t: TestGateway;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const { env: own, drop: d } = await backend.env();
    drop = d;
    t = await startTestGateway({ ...env, ...own }, { runner: false });
  });
  afterAll(async () => {
    await t?.stop();
    await drop?.();
  });
  return () => t;
}
