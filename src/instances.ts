import type { Logger } from 'pino';
import type { Config } from './config';
import type { JobEventBus } from './events';
import type { JobCache } from './job-cache';
import type { Lifecycle } from './lifecycle';
import type { Job } from './model';
import { bridgeRemoteEvents, type RemoteEvents } from './remote-events';
import type { Store } from './store';
import { openEventTransport } from './transports';

/**
 * How job changes cross instances: over the store's NOTIFY, or the transport EVENTS_URL names, with the
 * listener check and fallback poll of remote-events.ts. Returns `publish`, which every change this
 * instance commits goes through, and the bridge (null on the embedded store, which serves one gateway).
 */
export async function connectInstances(o: {
  settings: Config['events'];
  store: Store;
  events: JobEventBus;
  cache: JobCache;
  logger: Logger;
  lifecycle: Lifecycle;
  /** Told about the job states read for other instances' changes. */
  onRemoteJobs?: (jobs: readonly Job[]) => void;
}): Promise<{ remote: RemoteEvents | null; publish(jobs: readonly Job[]): void }> {
  const { settings, store, events, logger } = o;
  const changes = settings.url
    ? await openEventTransport(settings.url, { origin: store.origin, nodeId: store.nodeId, onError: warnEvery(10_000, logger) })
    : store.changes;
  if (changes?.stop) o.lifecycle.add('event transport closed', () => changes.stop!());
  // NOTIFY is sent by the store in the change's transaction; another transport is told after commit (so the
  // bridge also sweeps the store on every healthy check: an announcement lost with its sender is read there).
  const publish = (jobs: readonly Job[]) => {
    events.publish(jobs);
    changes?.announce?.(jobs.map((j) => ({ id: j.id, revision: j.revision })));
  };
  if (!changes) return { remote: null, publish };
  const remote = await bridgeRemoteEvents({
    changes, jobs: store.jobs, events, logger, checkMs: settings.checkMs, pollMs: settings.pollMs, onDeaf: (deaf) => o.cache.setTrusted(!deaf), onRemoteJobs: o.onRemoteJobs,
  });
  o.lifecycle.add('listen stopped', () => remote.stop());
  return { remote, publish };
}

/** A warning for failed announcements, at most once per `ms` (an outage fails every one). */
function warnEvery(ms: number, logger: Logger): (err: unknown) => void {
  let last = 0;
  return (err) => {
    if (Date.now() - last < ms) return;
    last = Date.now();
    logger.warn({ code: (err as { code?: string }).code }, 'could not announce job changes; instances that notice they miss them read them with the fallback poll');
  };
}
