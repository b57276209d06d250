import { rmSync } from 'node:fs';
import net, { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config';
import { freshDataDir, startTestGateway } from './support/gateway';
import { HOSTS, hostsFile } from './support/hosts';
import { call } from './support/http';
import { waitForJob, waitForJobState } from './support/jobs';
import { adminToken } from './support/tokens';
import { ADMIN } from './support/principals';
import { sqlOf } from './support/sql';


/** What a connect to a loopback port meets: the socket error's code, or 'closed' when it is ended without one. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    socket.on('close', () => resolve('closed'));
    socket.setTimeout(5_000, () => {
      resolve('no answer in 5 s');
      socket.destroy();
    });
  });
}

describe('the embedded store across restarts', () => {
  it('keeps hosts and jobs on the same DATA_DIR', async () => {
    const dataDir = freshDataDir();
    const first = await startTestGateway({ HOSTS_FILE: hostsFile() }, { dataDir, runner: false });
    const scheduled = await call(`${first.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: [HOSTS.gamma.id] });
    expect(scheduled.status).toBe(200);
    const before = await call(`${first.url}/api/v1/HostScanJob/${scheduled.json[0].id}`, { token: adminToken() });
    await first.stop();

    const second = await startTestGateway({}, { dataDir, runner: false });
    const after = await call(`${second.url}/api/v1/HostScanJob/${scheduled.json[0].id}`, { token: adminToken() });
    expect(after.status).toBe(200);
    expect(after.json).toEqual(before.json);
    const host = await second.gateway.service.getHost(ADMIN, { id: HOSTS.gamma.id });
    expect(host).toMatchObject({ name: 'gamma', ipAddress: '127.0.0.13', sshPort: 2222 });
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('upserts HOSTS_FILE entries by id, else by name', async () => {
    const dataDir = freshDataDir();
    const id = '44444444-4444-4444-8444-444444444444';
    const first = await startTestGateway({ HOSTS_FILE: hostsFile([{ id, name: 'one' }, { name: 'two', ipAddress: '127.0.0.2' }]) }, { dataDir, runner: false });
    const two = (await first.gateway.service.listHosts(ADMIN, { search: 'two' })).items[0]!;
    await first.stop();
    const second = await startTestGateway({ HOSTS_FILE: hostsFile([{ id, name: 'uno' }, { name: 'TWO', ipAddress: '127.0.0.22' }]) }, { dataDir, runner: false });
    expect(await second.gateway.service.getHost(ADMIN, { id })).toMatchObject({ name: 'uno' });
    expect(await second.gateway.service.getHost(ADMIN, { id: two.id })).toMatchObject({ name: 'TWO', ipAddress: '127.0.0.22' });
    await second.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('adds the demo host in development only, with a target whose first scan runs and completes', async () => {
    const dev = await startTestGateway({});
    const hosts = (await dev.gateway.service.listHosts(ADMIN, {})).items;
    expect(hosts).toEqual([expect.objectContaining({ name: 'localhost', dnsHostName: 'localhost', ipAddress: '127.0.0.1' })]);
    // The log says it is the demo, and where its scans really go (loopback), so nobody takes it for a real host.
    const { sshPort, winRmPort } = hosts[0]!;
    const said = dev.logs.map((l) => JSON.parse(l)).find((l) => l.demoHost === 'localhost');
    expect(said, 'a log line names the demo host').toBeDefined();
    expect(said.msg).toBe(`demo host 'localhost' scans the demo SSH target at 127.0.0.1:${sshPort} (development only; WinRM port ${winRmPort} held closed)`);
    // Its WinRM port is the demo target's, held closed, not 5985 and whatever listens there on this machine.
    expect(winRmPort).toEqual(expect.any(Number));
    expect(winRmPort).not.toBe(5985);
    expect(await connectOutcome(winRmPort!)).toMatch(/^(ECONNRESET|ECONNREFUSED|closed)$/);
    const [job] = (await call(`${dev.url}/api/v1/HostScanJob/ByHostIdMultiple`, { token: adminToken(), body: [hosts[0]!.id] })).json;
    await waitForJobState(dev.url, job.id, adminToken(), (j) => j.hostScanJobHostJoin[0].actionQueue.status === 1);
    const done = await waitForJob(dev.url, job.id, adminToken());
    expect(done.hostScanJobHostJoin[0].actionQueue.status).toBe(2);
    expect(done.hostScanJobHostJoin[0].hostScanHost).toMatchObject({ os: 'Debian', version: '12' });
    await dev.stop();
    const prod = await startTestGateway({ NODE_ENV: 'production', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, { runner: false });
    expect((await prod.gateway.service.listHosts(ADMIN, {})).items).toEqual([]);
    expect(prod.logs.filter((l) => l.includes('demo'))).toEqual([]);
    await prod.stop();
  }, 60_000); // a scan with a one-second answer, and two gateways: 30 s ran out at load 18

  it('refuses to start on an invalid HOSTS_FILE, naming it, and releases the data directory', async () => {
    const dataDir = freshDataDir();
    const file = hostsFile([{ name: 'ok' }, { name: '', ipAddress: '999.1.1.1', sshPort: 70000 }]);
    const failure = await startTestGateway({ HOSTS_FILE: file }, { dataDir, runner: false }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as Error).message).toMatch(/^HOSTS_FILE has invalid hosts: \$\[1\]\.name: .*\$\[1\]\.ipAddress: .*\$\[1\]\.sshPort/);
    const again = await startTestGateway({}, { dataDir, runner: false });
    await again.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails to start when its port is taken, after the store and runner started, and leaves nothing held', async () => {
    const dataDir = freshDataDir();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const { port } = holder.address() as net.AddressInfo;
    const failure = await startTestGateway({ PORT: String(port) }, { dataDir }).catch((err: unknown) => err);
    expect(String(failure)).toMatch(/EADDRINUSE/);
    await new Promise<void>((r) => holder.close(() => r()));
    // The data directory's lock was released and the store closed: the same directory starts again.
    const again = await startTestGateway({}, { dataDir });
    expect((await call(`${again.url}/health/ready`)).status).toBe(200);
    await again.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a second gateway on a DATA_DIR in use', async () => {
    const dataDir = freshDataDir();
    const first = await startTestGateway({}, { dataDir, runner: false });
    await expect(startTestGateway({}, { dataDir, runner: false })).rejects.toThrow(/in use by another gateway/);
    await first.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('unexpected failures', () => {
  it('are masked as a 500 ProblemDetails and logged with the same traceId', async () => {
    const t = await startTestGateway({ HOSTS_FILE: hostsFile() }, { runner: false });
    // A store that answers but fails in a way no code path expects (a closed store is UNAVAILABLE, 503).
    await sqlOf(t.gateway.store).query('ALTER TABLE host_scan_jobs RENAME TO host_scan_jobs_gone');
    const res = await call(`${t.url}/api/v1/HostScanJob`, { token: adminToken() });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({
      type: 'https://tools.ietf.org/html/rfc7231#section-6.6.1',
      title: 'An error occurred while processing your request.',
      status: 500,
      detail: 'The server could not complete the request; the traceId identifies it in the logs.',
      traceId: expect.any(String),
    });
    const logged = t.logs.map((l) => JSON.parse(l)).find((l) => l.traceId === res.json.traceId && l.level >= 50);
    expect(logged).toBeDefined();
    await sqlOf(t.gateway.store).query('ALTER TABLE host_scan_jobs_gone RENAME TO host_scan_jobs');
    await t.stop();
  });
});
