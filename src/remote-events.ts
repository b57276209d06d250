import type { Logger } from 'pino';
import { createBackoff } from './backoff';
import type { JobChange } from './change-message';
import { createChangePoll } from './change-poll';
import type { JobEventBus } from './events';
import type { Job } from './model';
import { createListenCheck } from './listen-check';
import type { ChangeNotifications, Store } from './store';

export interface RemoteEventOptions {
  changes: ChangeNotifications;
  jobs: Store['jobs'];
  events: JobEventBus;
  logger: Logger;
  /** How often the path is checked with a probe. */
  checkMs: number;
  /** How often changes are read from the store while the path is deaf. */
  pollMs: number;
  /** How long a probe may take to come back. @default 3000 */
  probeTimeoutMs?: number;
  /** Told when changes from other instances may be going unheard (true) and when every one is known again. */
  onDeaf?: (deaf: boolean) => void;
  /** Told about the job states read for other instances' changes, after the bus. */
  onRemoteJobs?: (jobs: readonly Job[]) => void;
}

export interface RemoteEvents {
  /** Null while changes from other instances are heard; else why they may not be (they are polled meanwhile). */
  deafness(): string | null;
  stop(): Promise<void>;
}

// Transactions that change jobs last milliseconds; a change stamped this long before a sweep's start
// and committed after it is not expected.
const OVERLAP_MS = 5_000;
const PAGE_SIZE = 500;

/**
 * Brings job changes committed by other instances into this instance's event bus: they announce job ids
 * and revisions, this instance reads the jobs whose state it does not know and publishes them. At start
 * and every `checkMs` it proves that the path delivers (its own probe comes back); while it does not, or
 * while its connection is down, it reads changes from the store every `pollMs` instead, and once the
 * path delivers again it reads what changed meanwhile, so no subscriber misses a state. Where changes are
 * announced after commit, every healthy check also reads what changed since the last one.
 */
export async function bridgeRemoteEvents(o: RemoteEventOptions): Promise<RemoteEvents> {
  const log = o.logger.child({ component: 'remote-events', path: o.changes.name });
  const check = createListenCheck({ probe: (token) => o.changes.probe(token), timeoutMs: o.probeTimeoutMs ?? 3_000 });
  const publish = (jobs: readonly Job[]) => {
    o.events.publish(jobs);
    o.onRemoteJobs?.(jobs);
  };
  const poll = createChangePoll({ jobs: o.jobs, events: o.events, publish, pageSize: PAGE_SIZE, overlapMs: OVERLAP_MS });
  let pending = new Set<string>();
  let reading: Promise<void> | null = null;
  let stopped = false;

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

  const onChange = (changes: JobChange[]) => {
    for (const c of changes) {
      if (c.revision === null || c.revision > (o.events.latestRevision(c.id) ?? -1)) pending.add(c.id);
    }
    if (pending.size > 0) reading ??= drain();
  };

  // Deaf while the connection is lost or the last probe did not come back.
  let lost = false;
  let unheard: string | null = null;
  let deaf: string | null = null;
  let pollTimer: NodeJS.Timeout | null = null;
  let polling: Promise<void> | null = null;
  // How many times the path was heard again, and that count when the current sweep began.
  let heardAgain = 0;
  let sweepHeard = 0;

  // A store that does not answer is read again after a backoff, and said once, not every tick.
  const backoff = createBackoff(o.pollMs, Math.max(o.pollMs, 5_000));
  let failing = false;
  const tick = async () => {
    pollTimer = null;
    let caughtUp = false;
    let delay: number;
    try {
      // One page per tick while deaf (a full page is followed at once); when heard again, the rest at once.
      // Only a sweep that began once the path was heard again ends the poll: one that began before may
      // have read the store before a change whose announcement was then lost.
      do {
        if (poll.atSweepStart()) sweepHeard = heardAgain;
        caughtUp = await poll.step();
      } while (!deaf && !stopped && (!caughtUp || sweepHeard !== heardAgain));
      delay = caughtUp ? o.pollMs : 0;
      failing = false;
      backoff.reset();
    } catch (err) {
      if (!failing) log.warn({ err }, 'could not read job changes from the store; trying again with backoff');
      failing = true;
      delay = backoff.next();
    }
    if (stopped) return;
    if (caughtUp && !deaf) {
      log.info('job changes from other instances are heard again; the fallback poll stopped');
      o.onDeaf?.(false);
      return;
    }
    pollTimer = setTimeout(() => void (polling = tick().finally(() => (polling = null))), delay);
    pollTimer.unref();
  };
  const startPolling = () => {
    if (!pollTimer && !polling) void (polling = tick().finally(() => (polling = null)));
  };

  const update = () => {
    const why = lost ? `${o.changes.name}: its connection is lost` : unheard;
    if (why && why !== deaf) {
      log.warn({ why, pollMs: o.pollMs }, `job changes from other instances may go unheard by ${o.changes.name}; reading them from the store every ${o.pollMs} ms until they are heard again`);
      o.onDeaf?.(true);
    }
    if (deaf && !why) heardAgain++;
    deaf = why;
    if (deaf) startPolling();
    else if (pollTimer) {
      // Heard again: read what was missed now, not a poll period later; polling ends when it is read.
      clearTimeout(pollTimer);
      pollTimer = null;
      startPolling();
    }
  };

  // A transport told after commit (NATS, Redis) loses an announcement when its sender dies between commit
  // and publish, or when only the sender's broker connection fails; the probes still come back, so nothing
  // would make this instance read that change. Every healthy check therefore sweeps the store once, which
  // bounds such a loss by one check period. NOTIFY, sent in the change's transaction, needs none.
  const announcedAfterCommit = typeof o.changes.announce === 'function';
  let sweepFailing = false;
  const sweep = async () => {
    const heardBefore = heardAgain;
    try {
      let caughtUp = false;
      // Deaf mid-sweep: the fallback poll goes on from this page.
      while (!caughtUp && !deaf && !stopped) {
        if (poll.atSweepStart()) sweepHeard = heardAgain;
        caughtUp = await poll.step();
      }
      sweepFailing = false;
    } catch (err) {
      if (!sweepFailing) log.warn({ err }, 'could not read job changes from the store on a check; the next check reads them');
      sweepFailing = true;
    }
    // Deaf meanwhile, or deaf and heard again: the fallback poll reads what was missed and ends the episode.
    return deaf !== null || heardAgain !== heardBefore;
  };
  // Shares the poll's position, so the fallback poll waits for it and starts after it if needed. Not part of
  // the check: a reconnect while it reads must run a check of its own.
  const startSweep = () => {
    polling = sweep().then((handOver) => {
      polling = null;
      if (handOver && !stopped) startPolling();
    });
  };

  let checking: Promise<void> | null = null;
  const runCheck = () =>
    (checking ??= (async () => {
      const at = announcedAfterCommit ? null : await o.jobs.now().catch(() => null);
      const why = await check.run();
      // Heard then and heard before: nothing in between was missed, the next sweep may start here.
      if (!why && at !== null && !deaf && !pollTimer && !polling) poll.heardUntil(at);
      unheard = why ? `${o.changes.name}: ${why}` : null;
      if (stopped) return;
      update();
      if (!why && announcedAfterCommit && !deaf && !pollTimer && !polling) startSweep();
    })().finally(() => (checking = null)));

  poll.heardUntil(await o.jobs.now());
  const unlisten = await o.changes.listen({
    onChange,
    onProbe: (token) => check.heard(token),
    onLost: () => {
      lost = true;
      update();
    },
    onReconnect: () => {
      lost = false;
      void runCheck();
    },
  });
  await runCheck();
  if (!deaf) log.info('job changes from other instances are heard (probe came back)');
  const checkTimer = setInterval(() => void runCheck(), o.checkMs);
  checkTimer.unref();

  return {
    deafness: () => deaf,
    async stop() {
      stopped = true;
      clearInterval(checkTimer);
      if (pollTimer) clearTimeout(pollTimer);
      await unlisten();
      await Promise.all([reading, polling, checking]);
    },
  };
}
