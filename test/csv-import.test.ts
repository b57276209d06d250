import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHostCsv } from '../src/csv-import';
import { startTestGateway, type TestGateway } from './support/gateway';
import { countJobs } from './support/sql';
import { adminToken } from './support/tokens';

describe('reading host CSV', () => {
  it('takes a BOM, CRLF, aliases, quotes with commas and line breaks, and names rows by their first line', () => {
    const text = '\uFEFFHost Name,IP,ssh_port,Source,Accept Thumbprint,SSH Trust\r\n' +
      'a.test.local,127.0.0.1,22,"imported, by hand",yes,WarnOnThumbprintMismatch\r\n' +
      'b.test.local,127.0.0.2,,"two\r\nlines",no,2\r\n' +
      '\r\n' +
      'c.test.local,127.0.0.3,twenty,,maybe,Sometimes\r\n';
    const { rows, problems } = readHostCsv(text);
    expect(rows.map((r) => r.line)).toEqual([2, 3, 6]);
    expect(rows[0]!.request).toMatchObject({ dnsHostName: 'a.test.local', ipAddress: '127.0.0.1', sshPort: 22, source: 'imported, by hand', acceptThumbprintOnFirstDiscovery: true, sshTrustActionType: 1 });
    expect(rows[1]!.request).toMatchObject({ sshPort: null, source: 'two\nlines', acceptThumbprintOnFirstDiscovery: false, sshTrustActionType: 2 });
    expect(problems).toEqual([
      { line: 6, field: 'sshPort', message: "'twenty' is not a port number (1-65535)." },
      { line: 6, field: 'acceptThumbprintOnFirstDiscovery', message: "'maybe' is not true or false." },
      { line: 6, field: 'sshTrustActionType', message: "'Sometimes' is not one of AlwaysTrustIgnoreThumbprint, WarnOnThumbprintMismatch, ErrorOnThumbprintMismatch." },
    ]);
  });

  it('names unknown columns and rows of the wrong length', () => {
    const { problems } = readHostCsv('dnsHostName,colour\na.test,red\nb.test\n');
    expect(problems).toEqual([
      { line: 1, field: 'colour', message: "Unknown column 'colour'; expected HostScanJobRequest field names." },
      { line: 3, field: '', message: 'Expected 2 fields, got 1.' },
    ]);
  });
});

describe('the import-csv command against a gateway', () => {
  let t: TestGateway;
  let dir: string;
  beforeAll(async () => {
    t = await startTestGateway({}, { runner: false });
    dir = mkdtempSync(join(tmpdir(), 'scan-gateway-csv-'));
  });
  afterAll(() => t.stop());

  const run = (file: string, ...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['dist/cli/import-csv.js', '--url', t.url, '--file', file, ...args], {
        env: { ...process.env, SCAN_GATEWAY_TOKEN: adminToken() },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const write = (text: string) => {
    const file = join(dir, `${randomUUID()}.csv`);
    writeFileSync(file, text);
    return file;
  };
  const hostCount = async () => (await t.gateway.store.hosts.list({ limit: 1_000_000 })).length;

  it('imports nothing while any row is bad, naming each by line and field; --import-good imports the rest', { timeout: 60_000 }, async () => {
    const id = randomUUID().slice(0, 8);
    const file = write(`dnsHostName,ipAddress,sshPort\nok-${id}.test.local,127.0.0.1,22\nbad-${id}.test.local,300.0.0.1,22\nport-${id}.test.local,127.0.0.1,0\n`);
    const [hostsBefore, jobsBefore] = [await hostCount(), await countJobs(t.gateway.store)];
    const refused = await run(file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("line 3, ipAddress: '300.0.0.1' is not an IP address.");
    expect(refused.stderr).toContain("line 4, sshPort: '0' is not a port number (1-65535).");
    expect(refused.stderr).toContain('nothing imported');
    expect([await hostCount(), await countJobs(t.gateway.store)]).toEqual([hostsBefore, jobsBefore]);

    const partial = await run(file, '--import-good');
    expect(partial.code).toBe(2);
    expect(partial.stdout).toContain('imported 1 host(s), skipped 2 bad row(s).');
    expect(await hostCount()).toBe(hostsBefore + 1);
    expect((await t.gateway.service.listHosts({ subject: 's', userName: 's', roles: new Set(['Admin']), expiresAt: Date.now() + 60_000 }, { search: `ok-${id}` })).items).toHaveLength(1);
  });

  it('imports 10,000 rows, in chunks that fit the body limit of the gateway', { timeout: 180_000 }, async () => {
    const id = randomUUID().slice(0, 8);
    const lines = Array.from({ length: 10_000 }, (_, i) => `big-${id}-${i}.test.local,127.0.${Math.floor(i / 250)}.${(i % 250) + 1},"CMDB, row ${i}"`);
    const file = write(`\uFEFFdnsHostName,ipAddress,source\r\n${lines.join('\r\n')}\r\n`);
    const [hostsBefore, jobsBefore] = [await hostCount(), await countJobs(t.gateway.store)];
    const result = await run(file, '--chunk', '1000');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('imported 10000 host(s).');
    expect(await hostCount()).toBe(hostsBefore + 10_000);
    const jobs = (result.stdout.match(/^job /gm) ?? []).length;
    expect(jobs).toBeGreaterThanOrEqual(10);
    expect(await countJobs(t.gateway.store)).toBe(jobsBefore + jobs);
  });
});
