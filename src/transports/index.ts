import type { ChangeNotifications } from '../store';
import { openNats } from './nats';
import { openRedis } from './redis';

export interface TransportOptions {
  /** This process, so it skips its own announcements and hears only its own probes. */
  origin: string;
  /** The database's id: deployments sharing a broker use subjects of their own. */
  nodeId: string;
  /** An announcement that could not be sent (other instances read it with the fallback poll). */
  onError: (err: unknown) => void;
}

/** The event transport EVENTS_URL names: nats:// or redis:// (rediss://). */
export function openEventTransport(url: string, options: TransportOptions): Promise<ChangeNotifications> {
  return new URL(url).protocol === 'nats:' ? openNats(url, options) : openRedis(url, options);
}
