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
function harness() {
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

describe('bridgeRemoteEvents', () => {
  it('sweeps again when the path is heard again during a sweep: a change committed after that sweep read is not lost', async () => {
    const h = harness();
    const events = new JobEventBus();
    const heard: string[] = [];
    events.subscribe((j) => heard.push(`${j.id}@${j.revision}`));
    const bridge = await bridgeRemoteEvents({
      changes: h.changes,
      jobs: h.jobs as never,
      events,
      logger: pino({ level: 'silent' }),
      checkMs: 60_000,
      pollMs: 60_000,
    });
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
});
