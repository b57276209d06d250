import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostInput } from '../src/model';
import { ADMIN } from './support/principals';
import { startTestGateway, type TestGateway } from './support/gateway';
import { call } from './support/http';
import { waitForJob, waitForJobState } from './support/jobs';
import { closedPort, silentListener, sshListener, winrmListener, type TestListener } from './support/listeners';
import { installedSshVersion, sshdAvailable, startSshd } from './support/sshd';
import { adminToken } from './support/tokens';

const token = adminToken();
const cleanup: (() => Promise<void>)[] = [];
let t: TestGateway;
let closed: number;

beforeAll(async () => {
  t = await startTestGateway({ SCAN_TIMEOUT_MS: '1500' });
  cleanup.push(() => t.stop());
  closed = await closedPort();
});
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function listener(make: Promise<TestListener>): Promise<TestListener> {
  const l = await make;
  cleanup.push(() => l.close());
  return l;
}

/** Add one host, schedule it through the REST route and wait until it is terminal. */
async function scanHost(host: Omit<HostInput, 'name'>, g: TestGateway = t) {
  const [created] = await g.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: `host-${randomUUID()}`, ...host }] });
  const res = await call(`${g.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: [created!.id] });
  expect(res.status).toBe(200);
  const entity = await waitForJob(g.url, res.json[0].id, token);
  const status = (await call(`${g.url}/api/v1/HostScanJob?take=1000`, { token })).json.find((j: any) => j.id === entity.id);
  return { hostId: created!.id, job: status, scan: status.hostScanHostStatus[0], entity };
}

describe('SSH banner families', () => {
  const families: [string, string, string | null][] = [
    ['SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', 'Debian', '12'],
    ['SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6', 'Ubuntu', '22.04'],
    ['SSH-2.0-OpenSSH_8.0', 'RHEL-compatible Linux', '8'],
    ['SSH-2.0-OpenSSH_9.6 FreeBSD-20240104', 'FreeBSD', '14'],
    ['SSH-2.0-OpenSSH_for_Windows_8.1', 'Windows', '10.0.20348'],
  ];
  it.each(families)('%s → %s %s', async (banner, os, version) => {
    const ssh = await listener(sshListener(banner, { host: '127.0.0.2', preamble: ['Welcome, this line comes first'] }));
    const { job, scan, hostId } = await scanHost({ ipAddress: '127.0.0.2', sshPort: ssh.port, winRmPort: closed });
    expect(job).toMatchObject({ status: 2, statusDescription: 'Complete.' });
    expect(scan).toMatchObject({ status: 2, failureReason: 0, os, version, ipAddress: '127.0.0.2' });
    expect(scan.statusDescription).toContain(banner);
    const host = await t.gateway.service.getHost(ADMIN, { id: hostId });
    expect(host).toMatchObject({ os, version, ipAddress: '127.0.0.2' });
    expect(host.lastScanTimeUtc).toBeInstanceOf(Date);
  });
});

describe('a real OpenSSH server', () => {
  it.runIf(sshdAvailable())('is recognised from its banner', async () => {
    const sshd = await startSshd();
    cleanup.push(() => sshd.close());
    const { scan } = await scanHost({ dnsHostName: 'localhost', sshPort: sshd.port, winRmPort: closed });
    expect(scan).toMatchObject({ status: 2, os: 'Debian', ipAddress: '127.0.0.1' });
    const release = /deb(\d+)u\d+/.exec(installedSshVersion())?.[1];
    if (release) expect(scan.version).toBe(release);
    expect(scan.statusDescription).toMatch(/SSH-2\.0-OpenSSH_\S+ Debian/);
  });
});

describe('WinRM', () => {
  it('Identify names Windows and its version', async () => {
    const winrm = await listener(winrmListener({ productVersion: 'OS: 10.0.20348 SP: 0.0 Stack: 3.0' }));
    const { scan } = await scanHost({ ipAddress: '127.0.0.1', sshPort: closed, winRmPort: winrm.port });
    expect(scan).toMatchObject({ status: 2, os: 'Windows', version: '10.0.20348' });
    expect((winrm as any).requests[0].headers.wsmanidentify).toBe('unauthenticated');
    expect((winrm as any).requests[0].body).toContain('Identify');
  });

  it('a 401 still means a Windows host with WinRM', async () => {
    const winrm = await listener(winrmListener({ status: 401 }));
    const { scan } = await scanHost({ ipAddress: '127.0.0.1', sshPort: closed, winRmPort: winrm.port });
    expect(scan).toMatchObject({ status: 2, os: 'Windows', version: null });
  });
});

describe('failures', () => {
  it('nothing listening → Failed / FailedToConnect naming the ports', async () => {
    const { job, scan } = await scanHost({ ipAddress: '127.0.0.1', sshPort: closed, winRmPort: closed });
    expect(job).toMatchObject({ status: 3, statusDescription: 'Failed.' });
    expect(scan).toMatchObject({ status: 3, failureReason: 11 });
    expect(scan.statusDescription).toBe(
      `Failed to connect: SSH connection refused (127.0.0.1:${closed}); WinRM connection refused (127.0.0.1:${closed})`,
    );
  });

  it('an unresolvable name without an address → Failed / InvalidHostName', async () => {
    const { scan } = await scanHost({ dnsHostName: 'no-such-host.invalid', sshPort: closed, winRmPort: closed });
    expect(scan).toMatchObject({ status: 3, failureReason: 10 });
    expect(scan.statusDescription).toMatch(/^Cannot resolve host name 'no-such-host\.invalid'/);
  });

  it('an unresolvable name falls back to the ipAddress', async () => {
    const ssh = await listener(sshListener('SSH-2.0-OpenSSH_8.7'));
    const { scan } = await scanHost({ dnsHostName: 'no-such-host.invalid', ipAddress: '127.0.0.1', sshPort: ssh.port, winRmPort: closed });
    expect(scan).toMatchObject({ status: 2, os: 'RHEL-compatible Linux', version: '9' });
  });

  it('a listener that accepts and never speaks → Failed / ActionTimeout', async () => {
    const silent = await listener(silentListener());
    const { scan } = await scanHost({ ipAddress: '127.0.0.1', sshPort: silent.port, winRmPort: silent.port });
    expect(scan).toMatchObject({ status: 3, failureReason: 4, statusDescription: 'Timed out after 1500 ms' });
  });
});

describe('cancel', () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway({ SCAN_CONCURRENCY: '1', SCAN_TIMEOUT_MS: '20000' });
    cleanup.push(() => g.stop());
  });

  it('ends a queued scan at once and aborts a running one', async () => {
    const silent = await listener(silentListener());
    const hosts = await g.gateway.service.upsertHosts(ADMIN, {
      hosts: ['busy', 'waiting'].map((n) => ({ name: `${n}-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: silent.port, winRmPort: silent.port })),
    });
    const scheduled = await call(`${g.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: hosts.map((h) => h.id) });
    const [busy, waiting] = scheduled.json;
    await waitForJobState(g.url, busy.id, token, (j) => j.hostScanJobHostJoin[0].actionQueue.status === 1);
    const queued = await call(`${g.url}/api/v1/HostScanJob/${waiting.id}`, { token });
    expect(queued.json.hostScanJobHostJoin[0].actionQueue.status).toBe(0);

    expect((await call(`${g.url}/api/v1/HostScanJob/${waiting.id}`, { method: 'DELETE', token })).status).toBe(202);
    const cancelledAtOnce = await call(`${g.url}/api/v1/HostScanJob/${waiting.id}`, { token });
    expect(cancelledAtOnce.json.hostScanJobHostJoin[0].actionQueue).toMatchObject({ status: 4 });

    const started = Date.now();
    expect((await call(`${g.url}/api/v1/HostScanJob/${busy.id}`, { method: 'DELETE', token })).status).toBe(202);
    const aborted = await waitForJob(g.url, busy.id, token, 5_000);
    expect(aborted.hostScanJobHostJoin[0].actionQueue).toMatchObject({ status: 4, statusDescription: 'Cancelled while running' });
    expect(Date.now() - started).toBeLessThan(3_000);
    const listed = (await call(`${g.url}/api/v1/HostScanJob`, { token })).json.find((j: any) => j.id === busy.id);
    expect(listed).toMatchObject({ status: 4, statusDescription: 'Cancelled.' });
  });
});

describe('the runner', () => {
  it('runs as many scans at once as SCAN_CONCURRENCY allows, and no more', async () => {
    const g = await startTestGateway({ SCAN_CONCURRENCY: '3' });
    cleanup.push(() => g.stop());
    let open = 0;
    let most = 0;
    // A probe holds its slot until it has the banner, so a slot's next connection comes after this answer.
    const server = createServer((socket) => {
      most = Math.max(most, ++open);
      socket.on('error', () => {});
      // Read what the client sends (a host key probe sends its identification), or its hang-up goes unseen.
      socket.resume();
      setTimeout(() => {
        open--;
        socket.end('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');
      }, 40);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const hosts = await g.gateway.service.upsertHosts(ADMIN, {
      hosts: Array.from({ length: 24 }, (_, i) => ({ name: `slot-${i}-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: port, winRmPort: closed })),
    });
    const res = await call(`${g.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: hosts.map((h) => h.id) });
    expect(res.status).toBe(200);
    for (const job of res.json) expect((await waitForJob(g.url, job.id, token)).hostScanJobHostJoin[0].actionQueue.status).toBe(2);
    expect(most).toBe(3);
  });

  it('drains on stop: readiness goes 503 and no scan is left Running', async () => {
    const g = await startTestGateway({ SCAN_TIMEOUT_MS: '20000' });
    const slow = await listener(sshListener('SSH-2.0-OpenSSH_8.0', { delayMs: 300 }));
    const [h] = await g.gateway.service.upsertHosts(ADMIN, { hosts: [{ name: `slow-${randomUUID()}`, ipAddress: '127.0.0.1', sshPort: slow.port, winRmPort: closed }] });
    const res = await call(`${g.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token, body: [h!.id] });
    await waitForJobState(g.url, res.json[0].id, token, (j) => j.hostScanJobHostJoin[0].actionQueue.status === 1);
    await g.gateway.runner.stop(5_000);
    const ready = await call(`${g.url}/health/ready`);
    expect(ready.status).toBe(503);
    const [job] = await g.gateway.store.jobs.getJobs([res.json[0].id]);
    expect(job!.scans[0]!.status).toBe(2);
    await g.stop();
  });
});
