import { rmSync } from 'node:fs';
import { openStore, type Store } from '../../src/store';
import { freshDataDir } from './gateway';
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

/** The same two stores for a whole gateway: the operator variables that select each. */
export const gatewayBackends = [
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
