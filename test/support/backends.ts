import { rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { openStore, type Store } from '../../src/store';
import { freshDataDir, startTestGateway, type TestGateway } from './gateway';
import { createDatabase, postgresAdminUrl } from './postgres';

/** A store to run a contract against: the embedded PGlite store always, PostgreSQL when the machine has it. */
export interface Backend {
  name: string;
  available: boolean;
  open(): Promise<{ store: Store; url: string | null; cleanup(): Promise<void> }>;
}

export const backends: Backend[] = [
  {
    name: 'embedded (PGlite)',
    available: true,
    async open() {
      const dir = freshDataDir();
      const store = await openStore({ databaseUrl: null, dataDir: dir });
      return { store, url: null, cleanup: async () => { await store.stop(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl() !== null,
    async open() {
      const db = await createDatabase();
      const store = await openStore({ databaseUrl: db.url, dataDir: '' });
      return { store, url: db.url, cleanup: async () => { await store.stop(); await db.drop(); } };
    },
  },
];

/** The two stores a test gateway can run on: the operator variables each needs, and how to clean up. */
export const gatewayBackends = [
  { name: 'embedded (PGlite)', available: true, env: async () => ({ env: {} as Record<string, string>, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    available: postgresAdminUrl() !== null,
    env: async () => {
      const db = await createDatabase();
      return { env: { DATABASE_URL: db.url } as Record<string, string>, drop: db.drop };
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
