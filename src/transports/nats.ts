import { connect, Events, StringCodec } from 'nats';
import { decodeChanges, decodeProbe, encodeChanges, encodeProbe } from '../change-message';
import { redactUrl } from '../redact-url';
import type { ChangeNotifications } from '../store';
import type { TransportOptions } from './index';

const codec = StringCodec();

/**
 * Job change announcements over core NATS: at-most-once, like NOTIFY; what a disconnected listener
 * misses the fallback poll reads from the store. Subjects carry the database's node id, so deployments
 * sharing a NATS server do not hear each other.
 */
export async function openNats(url: string, o: TransportOptions): Promise<ChangeNotifications> {
  const name = `NATS (${redactUrl(url)})`;
  const nc = await connect({ ...credentials(url), name: 'scan-gateway', timeout: 3_000, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250 }).catch(
    (err: { code?: string; name?: string }) => {
      throw new Error(`EVENTS_URL: could not connect to ${name} (${err.code ?? err.name})`);
    },
  );
  const subject = (kind: 'jobs' | 'probe') => `scan_gateway.${o.nodeId}.${kind}`;
  const send = (kind: 'jobs' | 'probe', message: string) => nc.publish(subject(kind), codec.encode(message));
  return {
    name,
    async listen(listener) {
      const jobs = nc.subscribe(subject('jobs'), {
        callback: (err, msg) => {
          const message = err ? null : decodeChanges(codec.decode(msg.data));
          if (message && message.origin !== o.origin && message.changes.length > 0) listener.onChange(message.changes);
        },
      });
      const probes = nc.subscribe(subject('probe'), {
        callback: (err, msg) => {
          const token = err ? null : decodeProbe(codec.decode(msg.data), o.origin);
          if (token !== null) listener.onProbe?.(token);
        },
      });
      let listening = true;
      void (async () => {
        for await (const status of nc.status()) {
          if (!listening) break;
          if (status.type === Events.Disconnect) listener.onLost?.();
          else if (status.type === Events.Reconnect) listener.onReconnect?.();
        }
      })();
      return async () => {
        listening = false;
        jobs.unsubscribe();
        probes.unsubscribe();
      };
    },
    async probe(token) {
      send('probe', encodeProbe(o.origin, token));
      await nc.flush();
    },
    announce(changes) {
      try {
        for (const message of encodeChanges(o.origin, changes)) send('jobs', message);
      } catch (err) {
        o.onError(err);
      }
    },
    async stop() {
      await nc.drain().catch(() => nc.close());
    },
  };
}

/**
 * The client ignores credentials in a server URL (the server then refuses it): `nats://user:pass@host`
 * becomes user and pass, `nats://token@host` a token, as the NATS tools read them.
 */
function credentials(raw: string): { servers: string; user?: string; pass?: string; token?: string } {
  const url = new URL(raw);
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  const servers = url.toString();
  if (user && pass) return { servers, user, pass };
  if (user) return { servers, token: user };
  return { servers };
}
