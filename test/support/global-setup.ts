import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { MIGRATIONS } from '../../src/store/migrations';
import { openStore } from '../../src/store';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDataDir: string;
  }
}

/**
 * Creating a PGlite database costs seconds; opening a copy of one costs a quarter of a second. Build a
 * migrated data directory once per migration set and let every test gateway start from a copy.
 */
export default async function setup(project: TestProject): Promise<void> {
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
  buildDist();
}

/** Tests that run the gateway as a real child process run the compiled `dist/`, built from this tree. */
function buildDist(): void {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`building dist/ failed:\n${tsc.stdout}${tsc.stderr}`);
}
