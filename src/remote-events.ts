import type { Logger } from 'pino';
import type { JobEventBus } from './events';
import type { Job } from './model';
import type { ChangeNotifications, Store } from './store';

/**
 * Brings job changes committed by other instances into this instance's event bus: they announce job
 * ids, this instance reads those jobs once and publishes them to every local subscriber. After
 * notifications were lost, it re-reads every job changed since shortly before the loss, so no
 * subscriber misses a terminal state.
 */
export async function bridgeRemoteEvents(o: {
  changes: ChangeNotifications;
  jobs: Store['jobs'];
  events: JobEventBus;
  logger: Logger;
  /** Told when changes from other instances may be going unheard (true) and when they are heard again. */
  onDeaf?: (deaf: boolean) => void;
}): Promise<{ stop(): Promise<void> }> {
  const log = o.logger.child({ component: 'remote-events' });
  let pending = new Set<string>();
  let reading: Promise<void> | null = null;
  // Database time of the newest change seen; resynchronisation starts a little before it.
  let newestSeen: Date | null = null;

  const publish = (jobs: Job[]) => {
    for (const job of jobs) if (!newestSeen || job.modifiedAt > newestSeen) newestSeen = job.modifiedAt;
    o.events.publish(jobs);
  };

  // One read per burst: ids that arrive while a read runs are read together next.
  const drain = async () => {
    while (pending.size > 0) {
      const ids = [...pending];
      pending = new Set();
      try {
        publish(await o.jobs.getJobs(ids));
      } catch (err) {
        log.warn({ err, jobs: ids.length }, 'could not read jobs announced by another instance');
      }
    }
    reading = null;
  };

  const onChange = (ids: string[]) => {
    for (const id of ids) pending.add(id);
    reading ??= drain();
  };

  const onReconnect = async () => {
    const since = new Date((newestSeen ?? new Date()).getTime() - 5_000);
    try {
      const ids = await o.jobs.changedSince(since);
      for (const id of ids) pending.add(id);
      log.info({ jobs: ids.length }, 'listening again; re-read jobs changed meanwhile');
      reading ??= drain();
      await reading;
      o.onDeaf?.(false);
    } catch (err) {
      log.warn({ err }, 'could not re-read jobs after reconnecting');
    }
  };

  const onLost = () => {
    log.warn('lost the LISTEN connection; changes made by other instances go unheard until it is back');
    o.onDeaf?.(true);
  };

  const unlisten = await o.changes.listen({ onChange, onLost, onReconnect: () => void onReconnect() });
  return {
    async stop() {
      await unlisten();
      await reading;
    },
  };
}
