import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { JobChange } from '../src/change-message';
import { JobEventBus } from '../src/events';
import type { Job } from '../src/model';
import { bridgeRemoteEvents } from '../src/remote-events';
import type { ChangeListener } from '../src/store/changes';

/**
 * The bridge against a scripted path and store (its two ports), so the order of a lost connection, a sweep
 * and the path being heard again can be fixed exactly; the real paths are in listen-outage, pooler and
 * event-transports.
 */
function harness(o: { announcesAfterCommit?: boolean } = {}) {
  let listener: ChangeListener | null = null;
  let delivering = true;
  let clock = 1_000_000;
  const committed: { id: string; revision: number; at: number }[] = [];
  const sweeps: { from: number; release: () => void }[] = [];
  let holdSweeps = false;
  const job = (id: string, revision: number) => ({ id, revision, scans: [] }) as unknown as Job;
  const jobs = {
    now: async () => clock,
    getJobs: async (ids: readonly string[]) => ids.map((id) => job(id, committed.filter((c) => c.id === id).at(-1)!.revision)),
    async changesAfter(position: { at: number; id: string }, limit: number) {
      const now = clock;
      // What was committed when the sweep read, not what is committed while it is held.
      const seen = committed.filter((c) => c.at > position.at && c.at <= now).slice(0, limit);
      if (holdSweeps) await new Promise<void>((release) => sweeps.push({ from: position.at, release }));
      return { changes: seen.map((c) => ({ at: c.at, id: c.id, revision: c.revision })), now };
    },
  };
  const changes = {
    name: 'scripted',
    async listen(l: ChangeListener) {
      listener = l;
      return async () => {};
    },
    async probe(token: string) {
      if (delivering) queueMicrotask(() => listener!.onProbe?.(token));
    },
    // Like NATS and Redis (told after commit); absent, like NOTIFY (sent in the change's transaction).
    ...(o.announcesAfterCommit ? { announce() {} } : {}),
  };
  return {
    jobs,
    changes,
    listener: () => listener!,
    setDelivering: (d: boolean) => (delivering = d),
    holdSweeps: (h: boolean) => (holdSweeps = h),
    sweeps,
    /** A change another instance commits; announced to this one only if `announced`. */
    commit(id: string, revision: number, announced: boolean) {
      clock += 1_000;
      committed.push({ id, revision, at: clock });
      if (announced && delivering) listener!.onChange([{ id, revision } satisfies JobChange]);
    },
  };
}

async function until(what: string, ok: () => boolean, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A bridge over the scripted ports, and the job states it published in order (`id@revision`). */
async function bridged(h: ReturnType<typeof harness>, options: { checkMs: number; pollMs: number; onDeaf?: (d: boolean) => void }) {
  const events = new JobEventBus();
  const heard: string[] = [];
  events.subscribe((j) => heard.push(`${j.id}@${j.revision}`));
  const bridge = await bridgeRemoteEvents({ changes: h.changes, jobs: h.jobs as never, events, logger: pino({ level: 'silent' }), ...options });
  return { bridge, heard };
}

describe('bridgeRemoteEvents', () => {
  it('sweeps again when the path is heard again during a sweep: a change committed after that sweep read is not lost', async () => {
    const h = harness();
    const { bridge, heard } = await bridged(h, { checkMs: 60_000, pollMs: 60_000 });
    try {
      expect(bridge.deafness()).toBeNull();

      // The connection drops; the sweep that starts reads the store and is held there.
      h.setDelivering(false);
      h.holdSweeps(true);
      h.listener().onLost!();
      await until('the first sweep to read', () => h.sweeps.length === 1);
      expect(bridge.deafness()).toMatch(/connection is lost/);

      // Another instance commits after that read; its announcement is lost (this one is not yet listening).
      h.commit('job-a', 3, true);
      // Then the path is heard again, while the sweep is still in flight.
      h.setDelivering(true);
      h.holdSweeps(false);
      h.listener().onReconnect!();
      await until('the path to be heard again', () => bridge.deafness() === null);
      h.sweeps[0]!.release();

      await until('the change committed during the sweep to be published', () => heard.includes('job-a@3'));
    } finally {
      await bridge.stop();
    }
  });

  it('after-commit transport: a change whose announcement never came is published within one check while the path is healthy', async () => {
    const h = harness({ announcesAfterCommit: true });
    const checkMs = 300;
    const { bridge, heard } = await bridged(h, { checkMs, pollMs: 60_000 });
    try {
      // Another instance commits and dies before announcing (or only its broker connection fails): the path
      // itself still delivers, so the probes come back and nothing else would make this one read the store.
      h.commit('job-b', 2, false);
      // Within the wait's 5 s, far under the 60 s poll: only the check's sweep can have read it.
      await until('the unannounced change to be published', () => heard.includes('job-b@2'), 5_000);
      expect(bridge.deafness()).toBeNull();

      // Later ones too: the sweep moves on from where it stopped, and does not publish a known state again.
      h.commit('job-c', 5, false);
      await until('a second unannounced change to be published', () => heard.includes('job-c@5'), 5_000);
      expect(heard.filter((x) => x === 'job-b@2')).toHaveLength(1);
    } finally {
      await bridge.stop();
    }
  });

  it('after-commit transport: deaf and heard again while a check\'s sweep runs, the path is trusted again and nothing is lost', async () => {
    const h = harness({ announcesAfterCommit: true });
    const told: boolean[] = [];
    const { bridge, heard } = await bridged(h, { checkMs: 60_000, pollMs: 60_000, onDeaf: (d) => told.push(d) });
    try {
      // A check (here after a reconnect) hears its probe; its sweep reads the store and is held there.
      h.holdSweeps(true);
      h.listener().onReconnect!();
      await until("the check's sweep to read", () => h.sweeps.length === 1);

      // The connection drops and comes back while that sweep is in flight; a change of that gap is not announced.
      h.setDelivering(false);
      h.listener().onLost!();
      expect(bridge.deafness()).toMatch(/connection is lost/);
      h.commit('job-d', 4, true);
      h.setDelivering(true);
      h.holdSweeps(false);
      h.listener().onReconnect!();
      await until('the path to be heard again', () => bridge.deafness() === null, 2_000);
      h.sweeps[0]!.release();

      await until('the change of the gap to be published', () => heard.includes('job-d@4'), 2_000);
      await until('the cache to be trusted again', () => told.at(-1) === false, 2_000);
      expect(told).toEqual([true, false]);
    } finally {
      for (const sweep of h.sweeps) sweep.release();
      await bridge.stop();
    }
  });
});
