import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger';
import type { Job } from '../src/model';
import { createRunner, type Runner } from '../src/runner';
import type { ScanTarget } from '../src/model';
import type { Scanner } from '../src/scanner';
import { openStore, type Store } from '../src/store';
import { freshDataDir } from './support/gateway';
import { until } from './support/wait';

// The runner over the real embedded store, with a scanner the test steers: hosts named `hold-…` answer
// only when aborted, the others at once. Scans leased ahead of a free slot are the subject here.

const creator = { subject: 'test', userName: 'test', address: null };
let store: Store;
let dataDir: string;
let runner: Runner | null;
let probed: string[];

const scanner: Scanner = {
  scan(target: ScanTarget, signal: AbortSignal) {
    probed.push(target.name);
    if (!target.name.startsWith('hold-')) {
      return Promise.resolve({ ok: true, description: 'Complete', ipAddress: '127.0.0.1', os: 'Debian', version: '12', hostConnected: true });
    }
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  },
};

beforeEach(async () => {
  dataDir = freshDataDir();
  store = await openStore({ databaseUrl: null, dataDir });
  probed = [];
  runner = null;
});
afterEach(async () => {
  await runner?.stop(100);
  await store.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Schedule one job per name, each in its own call so they are claimed in this order; returns the jobs. */
async function schedule(names: string[]): Promise<Map<string, Job>> {
  const hosts = (await store.hosts.upsert(names.map((name) => ({ name, ipAddress: '127.0.0.1' })))).hosts!;
  const jobs = new Map<string, Job>();
  for (const host of hosts) jobs.set(host.name, (await store.jobs.schedule([host.id], creator)).jobs![0]!);
  return jobs;
}

function start(readAhead?: number): Runner {
  runner = createRunner({
    queue: store.queue, scanner, logger: createLogger('silent'), publish: () => {},
    concurrency: 1, readAhead, timeoutMs: 30_000, leaseMs: 30_000, retryLimit: 2, retryBackoffMs: 100, pollMs: 50,
  });
  runner.start();
  return runner;
}

const statusOf = async (job: Job) => (await store.jobs.getJobs([job.id]))[0]!.scans[0]!.status;


describe('scans leased ahead', () => {
  it('wait Running for a slot, and a cancel ends them without a probe', async () => {
    const jobs = await schedule(['fast-1', 'hold-1', 'next-1']);
    start(1);
    // fast-1's result is written with a claim for its slot and one more: hold-1 runs, next-1 waits.
    await until('hold-1 to start', () => probed.includes('hold-1'));
    await until('next-1 to be leased', async () => (await statusOf(jobs.get('next-1')!)) === 1);
    expect(probed).toEqual(['fast-1', 'hold-1']);

    const cancelled = await store.jobs.cancel(jobs.get('next-1')!.id, 'Cancelled by test');
    runner!.cancel(cancelled!.running);
    await until('next-1 to end Cancelled', async () => (await statusOf(jobs.get('next-1')!)) === 4);
    expect(probed).toEqual(['fast-1', 'hold-1']);
  });

  it('go back to the queue on stop, their attempt not counted', async () => {
    const jobs = await schedule(['fast-2', 'hold-2', 'next-2']);
    start(1);
    await until('next-2 to be leased', async () => (await statusOf(jobs.get('next-2')!)) === 1);
    await runner!.stop(50);
    const [next] = await store.jobs.getJobs([jobs.get('next-2')!.id]);
    expect(next!.scans[0]).toMatchObject({ status: 0, attempts: 0 });
    expect(probed).not.toContain('next-2');
  });

  it('are none while scans are slow: waiting work stays Queued', async () => {
    await schedule(Array.from({ length: 20 }, (_, i) => `warm-${i}`));
    start();
    await until('the fast scans', () => probed.length === 20);
    // Scans have been fast, so results would lease ahead; a claim that rides with no result does not.
    const jobs = await schedule(['hold-3', 'next-3']);
    runner!.wake();
    await until('hold-3 to start', () => probed.includes('hold-3'));
    await new Promise((r) => setTimeout(r, 200));
    expect(await statusOf(jobs.get('next-3')!)).toBe(0);
  });
});
