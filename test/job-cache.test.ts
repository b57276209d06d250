import { describe, expect, it } from 'vitest';
import { JobEventBus } from '../src/events';
import { JobCache } from '../src/job-cache';
import type { Job } from '../src/model';

const job = (id: string, revision: number): Job => ({
  id, seq: '1', revision, createdBy: null, createdByUserName: null, createdFromAddress: null, nodeId: 'n',
  createdAt: new Date(), modifiedAt: new Date(), scans: [],
});

describe('JobCache', () => {
  it('follows published changes of the jobs it holds', () => {
    const bus = new JobEventBus();
    const cache = new JobCache(bus);
    cache.put(job('a', 1));
    bus.publish([job('a', 2)]);
    expect(cache.get('a')!.revision).toBe(2);
  });

  it('refuses a read that is older than a change published while it ran', () => {
    const bus = new JobEventBus();
    const cache = new JobCache(bus);
    bus.publish([job('a', 3)]); // not cached yet: the bus remembers the revision anyway
    cache.put(job('a', 2));
    expect(cache.get('a')).toBeUndefined();
    cache.put(job('a', 3));
    expect(cache.get('a')!.revision).toBe(3);
  });

  it('serves nothing while changes may be going unheard', () => {
    const bus = new JobEventBus();
    const cache = new JobCache(bus);
    cache.put(job('a', 1));
    cache.setTrusted(false);
    expect(cache.get('a')).toBeUndefined();
    cache.put(job('a', 1));
    cache.setTrusted(true);
    expect(cache.get('a')).toBeUndefined();
  });

  it('keeps at most its limit, dropping the least recently used', () => {
    const cache = new JobCache(new JobEventBus(), 2);
    cache.put(job('a', 1));
    cache.put(job('b', 1));
    cache.get('a');
    cache.put(job('c', 1));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
  });
});
