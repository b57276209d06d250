import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Fixed host ids for tests; every address is loopback. */
export const HOSTS = {
  alpha: { id: '11111111-1111-4111-8111-111111111111', name: 'alpha', dnsHostName: 'alpha.test.local', ipAddress: '127.0.0.11' },
  beta: { id: '22222222-2222-4222-8222-222222222222', name: 'beta', ipAddress: '127.0.0.12' },
  gamma: { id: '33333333-3333-4333-8333-333333333333', name: 'gamma', ipAddress: '127.0.0.13', sshPort: 2222 },
} as const;

export const UNKNOWN_ID = '99999999-9999-4999-8999-999999999999';

/** Write hosts to a temporary HOSTS_FILE and return its path. */
export function hostsFile(hosts: readonly object[] = Object.values(HOSTS)): string {
  const path = join(mkdtempSync(join(tmpdir(), 'scan-gateway-hosts-')), 'hosts.json');
  writeFileSync(path, JSON.stringify(hosts));
  return path;
}
