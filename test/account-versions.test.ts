import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { followAccountVersions } from '../src/account-versions';
import type { AccountChangeListener } from '../src/store';

// The follower against scripted ports, so a read and a LISTEN message can be ordered exactly; the real
// paths are in pooler.test (PgBouncer) and issued-tokens.test (two instances).
function harness(stored: Map<string, number>) {
  let listener: AccountChangeListener | null = null;
  const reads: ((v: Map<string, number>) => void)[] = [];
  const versions = new Map<string, number>();
  return {
    versions,
    listener: () => listener!,
    /** Answer the oldest read in flight with what is stored now, or with `snapshot`. */
    answer: (snapshot = new Map(stored)) => reads.shift()!(snapshot),
    reads,
    options: {
      store: {
        accounts: { tokenVersions: () => new Promise<Map<string, number>>((resolve) => reads.push(resolve)) },
        accountChanges: { listen: async (l: AccountChangeListener) => ((listener = l), async () => {}) },
      } as never,
      current: (s: string) => versions.get(s),
      subjects: () => versions.keys(),
      onChange: (s: string, v: number) => versions.set(s, v),
      recheckMs: 60_000,
      logger: pino({ level: 'silent' }),
    },
  };
}

describe('followAccountVersions', () => {
  it('a read that began before LISTEN told of a revocation does not undo it; a later read applies, and notices deletions', async () => {
    const stored = new Map([['alice', 1], ['bob', 0]]);
    const h = harness(stored);
    h.versions.set('alice', 1).set('bob', 0);
    const follower = await followAccountVersions(h.options);
    try {
      h.listener().onReconnect!();
      const snapshot = new Map(stored);
      // Alice is disabled on another instance while the read is in flight.
      stored.set('alice', -1);
      h.listener().onChange('alice', -1);
      h.answer(snapshot);
      await new Promise((r) => setTimeout(r, 0));
      expect(h.versions.get('alice')).toBe(-1);

      // Bob is deleted; the next read notices he is gone.
      stored.delete('bob');
      h.listener().onReconnect!();
      h.answer();
      await new Promise((r) => setTimeout(r, 0));
      expect(Object.fromEntries(h.versions)).toEqual({ alice: -1, bob: -1 });
    } finally {
      await follower.stop();
    }
  });
});
