import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { MIGRATIONS } from '../../src/store/migrations';
import { openStore } from '../../src/store';
import { deadWorkers, freshMarkDir } from './worker-marks';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDataDir: string;
    /** An admin connection URL for the machine's PostgreSQL, or null when it is not reachable. */
    postgresAdminUrl: string | null;
    /** Where test workers keep the name of the test they run (worker-marks.ts). */
    workerMarksDir: string;
  }
}

/**
 * Creating a PGlite database costs seconds; opening a copy of one costs a quarter of a second. Build a
 * migrated data directory once per migration set and let every test gateway start from a copy.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  buildDist(); // first: the embedded store's worker thread runs from dist/
  const marks = join(tmpdir(), `scan-gateway-test-workers-${process.pid}`);
  freshMarkDir(marks);
  project.provide('workerMarksDir', marks);
  const hash = createHash('sha256').update(JSON.stringify(MIGRATIONS)).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `scan-gateway-template-${hash}`);
  if (!existsSync(join(dir, 'pgdata', 'PG_VERSION'))) {
    const building = `${dir}.${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    mkdirSync(building, { recursive: true });
    const store = await openStore({ databaseUrl: null, dataDir: building });
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
    renameSync(building, dir);
  }
  project.provide('templateDataDir', dir);
  project.provide('postgresAdminUrl', await findPostgres());
  return () => {
    for (const line of deadWorkers(marks)) process.stderr.write(`${line}\n`);
  };
}

/** PostgreSQL tests skip loudly without a server, and must run when CI is set. */
async function findPostgres(): Promise<string | null> {
  const url = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return url;
  } catch (err) {
    if (process.env.CI) throw new Error(`PostgreSQL at ${url} is required when CI is set: ${(err as Error).message}`);
    console.warn(`\n*** SKIPPING the PostgreSQL tests: no server at ${url} (${(err as Error).message}). Set TEST_POSTGRES_URL to point at one. ***\n`);
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Tests that run the gateway as a real child process run the compiled `dist/`, built from this tree. */
function buildDist(): void {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`building dist/ failed:\n${tsc.stdout}${tsc.stderr}`);
}
