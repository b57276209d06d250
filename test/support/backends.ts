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
