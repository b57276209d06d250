import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config';
import { startGateway, type Gateway } from '../../src/gateway';
import { createLogger } from '../../src/logger';
import type { Scanner } from '../../src/scanner';
import { TEST_SECRET } from './tokens';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  dataDir: string;
  /** Every log line the gateway wrote, as text. */
  logs: string[];
  stop(): Promise<void>;
}

/** A fresh data directory holding a migrated, empty embedded database. */
export function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'scan-gateway-test-'));
  cpSync(inject('templateDataDir'), dir, { recursive: true });
  return dir;
}

/** Start the real gateway on 127.0.0.1:0 with the embedded store; `env` overrides the operator variables. */
export async function startTestGateway(
  env: Record<string, string> = {},
  options: { dataDir?: string; runner?: boolean; scheduleTicker?: boolean; scanner?: Scanner } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? freshDataDir();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  // Every test client shares one loopback address: rate limits are off unless a test sets them.
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', RATE_LIMIT_PER_ADDRESS: '0', RATE_LIMIT_PER_SUBJECT: '0', ...env });
  const gateway = await startGateway(config, { logger: createLogger(config.logLevel, sink), runner: options.runner ?? true, scheduleTicker: options.scheduleTicker ?? true, ...(options.scanner ? { scanner: options.scanner } : {}) });
  return {
    gateway,
    url: gateway.url,
    dataDir,
    logs,
    async stop() {
      await gateway.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
