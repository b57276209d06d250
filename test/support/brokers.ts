import { binaryAvailable, startDaemon } from './daemon';
import { freePort } from './listeners';

const NATS_SERVER = '/usr/sbin/nats-server';
const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * A broker of the tests' own on a free loopback port, so a test may restart it (the machine's shared
 * NATS and Redis are other people's). Null when the server program is missing (and CI is not set).
 */
export interface Broker {
  name: 'nats' | 'redis';
  available(): boolean;
  /** With `password`, the broker requires it and `url` carries it (NATS as user `scan`). */
  start(o?: { password?: string }): Promise<{ url: string; restart(downMs: number): Promise<void>; stop(): Promise<void> }>;
}

export const BROKERS: Broker[] = [
  {
    name: 'nats',
    available: () => binaryAvailable(NATS_SERVER, 'nats-server'),
    async start(o = {}) {
      const port = await freePort();
      const auth = o.password ? ['--user', 'scan', '--pass', o.password] : [];
      const daemon = await startDaemon(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), ...auth], port);
      const user = o.password ? `scan:${encodeURIComponent(o.password)}@` : '';
      return { url: `nats://${user}127.0.0.1:${port}`, restart: daemon.restart, stop: daemon.stop };
    },
  },
  {
    name: 'redis',
    available: () => binaryAvailable(REDIS_SERVER, 'redis-server'),
    async start(o = {}) {
      const port = await freePort();
      const auth = o.password ? ['--requirepass', o.password] : [];
      const daemon = await startDaemon(REDIS_SERVER, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', ...auth], port);
      const user = o.password ? `:${encodeURIComponent(o.password)}@` : '';
      return { url: `redis://${user}127.0.0.1:${port}`, restart: daemon.restart, stop: daemon.stop };
    },
  },
];
