import { readFile } from 'node:fs/promises';
import { ConfigError } from './config';
import { isAppError } from './errors';
import type { HostInput } from './model';
import { hostInputs } from './validate';

/** The host development adds, pointed at the demo target's SSH and (closed) WinRM ports (see demo-target.ts). */
export const demoHost = (sshPort: number, winRmPort: number): HostInput => ({ name: 'localhost', dnsHostName: 'localhost', ipAddress: '127.0.0.1', sshPort, winRmPort });

/** Read and check `HOSTS_FILE`; a ConfigError names the file and what is wrong where. */
export async function readHostsFile(path: string, maxHosts: number): Promise<HostInput[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('HOSTS_FILE', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${path}).`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // Only where: the parser's message quotes the text, and a file named by mistake may hold secrets.
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new ConfigError('HOSTS_FILE', `is not valid JSON${position ? ` (at character ${position})` : ''}: ${path}`);
  }
  try {
    return hostInputs(json, maxHosts);
  } catch (err) {
    if (!isAppError(err)) throw err;
    const problems = Object.entries(err.fieldErrors ?? {}).map(([key, messages]) => `${key}: ${messages.join(' ')}`);
    throw new ConfigError('HOSTS_FILE', `has invalid hosts: ${problems.slice(0, 10).join('; ')}`);
  }
}
