import Redis, { type RedisOptions } from 'ioredis';
import { decodeChanges, decodeProbe, encodeChanges, encodeProbe } from '../change-message';
import { redactUrl } from '../redact-url';
import type { ChangeNotifications } from '../store';
import type { TransportOptions } from './index';

/**
 * Job change announcements over Redis pub/sub: at-most-once, like NOTIFY; what a disconnected listener
 * misses the fallback poll reads from the store. Channels carry the database's node id, so deployments
 * sharing a Redis server do not hear each other. A subscribed connection can do nothing else, so there
 * are two: one publishes, one listens.
 */
export async function openRedis(url: string, o: TransportOptions): Promise<ChangeNotifications> {
  const name = `Redis (${redactUrl(url)})`;
  const options: RedisOptions = { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 2, retryStrategy: (n) => Math.min(n * 100, 1_000) };
  const pub = new Redis(url, options);
  const sub = new Redis(url, options);
  // Connection errors are seen as 'close' and a failing publish; the client reconnects by itself.
  for (const c of [pub, sub]) c.on('error', () => {});
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (err) {
    pub.disconnect();
    sub.disconnect();
    throw new Error(`EVENTS_URL: could not connect to ${name} (${(err as { code?: string }).code ?? (err as Error).name})`);
  }
  const channel = (kind: 'jobs' | 'probe') => `scan_gateway.${o.nodeId}.${kind}`;
  let stopping = false;
  return {
    name,
    async listen(listener) {
      sub.on('message', (from: string, message: string) => {
        if (from === channel('probe')) {
          const token = decodeProbe(message, o.origin);
          if (token !== null) listener.onProbe?.(token);
          return;
        }
        const decoded = decodeChanges(message);
        if (decoded && decoded.origin !== o.origin && decoded.changes.length > 0) listener.onChange(decoded.changes);
      });
      let lost = false;
      sub.on('close', () => {
        if (stopping || lost) return;
        lost = true;
        listener.onLost?.();
      });
      // Subscriptions are renewed on reconnect; the bridge's probe tells when they deliver again.
      sub.on('ready', () => {
        if (!lost) return;
        lost = false;
        listener.onReconnect?.();
      });
      await sub.subscribe(channel('jobs'), channel('probe'));
      return async () => {
        sub.removeAllListeners('message');
        await sub.unsubscribe().catch(() => {});
      };
    },
    async probe(token) {
      await pub.publish(channel('probe'), encodeProbe(o.origin, token));
    },
    announce(changes) {
      for (const message of encodeChanges(o.origin, changes)) pub.publish(channel('jobs'), message).catch(o.onError);
    },
    async stop() {
      stopping = true;
      await Promise.all([pub, sub].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
