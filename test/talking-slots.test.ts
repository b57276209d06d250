import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger';
import { ActionStatus, type Job } from '../src/model';
import { createRunner, type Runner } from '../src/runner';
import { createProbeScanner } from '../src/scanner/probe';
import { openStore, type Store } from '../src/store';
import { freshDataDir } from './support/gateway';
import { closedPort, silentListener, sshListener, type TestListener } from './support/listeners';
import { until } from './support/wait';

// The runner over the real embedded store with the real probe scanner, against loopback listeners: one
// place for a scan that talks (talkingConcurrency 1) and four in all. Hosts that accept a connection and
// never answer hold their scans for the read time limit; a scan that merely waits gives its place up.

const creator = { subject: 'test', userName: 'test', address: null };
let store: Store;
let dataDir: string;
let runner: Runner | null;
const listeners: TestListener[] = [];

beforeEach(async () => {
  dataDir = freshDataDir();
  store = await openStore({ databaseUrl: null, dataDir });
  runner = null;
});
afterEach(async () => {
  await runner?.stop(100);
  await store.stop();
  await Promise.all(listeners.splice(0).map((l) => l.close()));
  rmSync(dataDir, { recursive: true, force: true });
});

/** One job per host, scheduled in this order (each in its own call, so claimed in this order). */
async function schedule(hosts: { name: string; sshPort: number; winRmPort: number }[]): Promise<Job[]> {
  const made = (await store.hosts.upsert(hosts.map((h) => ({ ...h, ipAddress: '127.0.0.1' })))).hosts!;
  const jobs: Job[] = [];
  for (const host of made) jobs.push((await store.jobs.schedule([host.id], creator)).jobs![0]!);
  return jobs;
}

const statusOf = async (job: Job) => (await store.jobs.getJobs([job.id]))[0]!.scans[0]!.status;

describe('talking slots', () => {
  it('a scan waiting for a host that does not answer leaves its place to one that talks', async () => {
    const mute = await silentListener();
    const ssh = await sshListener('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3');
    listeners.push(mute, ssh);
    const closed = await closedPort();
    const jobs = await schedule([
      { name: 'mute-1', sshPort: mute.port, winRmPort: closed },
      { name: 'mute-2', sshPort: mute.port, winRmPort: closed },
      { name: 'answers', sshPort: ssh.port, winRmPort: closed },
    ]);
    runner = createRunner({
      queue: store.queue,
      scanner: createProbeScanner({ readTimeoutMs: 60_000 }),
      logger: createLogger('silent'),
      publish: () => {},
      concurrency: 4,
      talkingConcurrency: 1,
      timeoutMs: 60_000, leaseMs: 60_000, retryLimit: 0, retryBackoffMs: 100, pollMs: 50,
    });
    runner.start();

    await until('the answering host to be scanned', async () => (await statusOf(jobs[2]!)) === ActionStatus.Complete, { timeoutMs: 15_000 });
    // The mute hosts hold their scans still: they gave up only their places, not their waits.
    expect(mute.connections).toBe(2);
    expect([await statusOf(jobs[0]!), await statusOf(jobs[1]!)]).toEqual([ActionStatus.Running, ActionStatus.Running]);
    expect(runner.inFlight).toBe(2);
  });
});
