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
  start(): Promise<{ url: string; restart(downMs: number): Promise<void>; stop(): Promise<void> }>;
}

export const BROKERS: Broker[] = [
  {
    name: 'nats',
    available: () => binaryAvailable(NATS_SERVER, 'nats-server'),
    async start() {
      const port = await freePort();
      const daemon = await startDaemon(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], port);
      return { url: `nats://127.0.0.1:${port}`, restart: daemon.restart, stop: daemon.stop };
    },
  },
  {
    name: 'redis',
    available: () => binaryAvailable(REDIS_SERVER, 'redis-server'),
    async start() {
      const port = await freePort();
      const daemon = await startDaemon(REDIS_SERVER, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], port);
      return { url: `redis://127.0.0.1:${port}`, restart: daemon.restart, stop: daemon.stop };
    },
  },
];
