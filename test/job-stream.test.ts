import { describe, expect, it } from 'vitest';
import { JobEventBus, JobStream, SlowConsumerError } from '../src/events';
import type { Job } from '../src/model';
import { fakeJob } from './support/jobs';

// The bound that keeps a slow subscriber from growing memory: a JobStream holds at most `maxPending`
// distinct jobs for its reader, newer states replacing older ones, and cuts the reader off past it.

const drain = async (stream: JobStream, n: number) => {
  const got: Job[] = [];
  for (let i = 0; i < n; i++) got.push((await stream.next()).value as Job);
  return got;
};

describe('JobStream', () => {
  it('holds up to maxPending distinct jobs for a reader that does not read, and hands them all over', async () => {
    const bus = new JobEventBus();
    const stream = new JobStream(bus, { maxPending: 10 });
    const jobs = Array.from({ length: 10 }, (_, i) => fakeJob(`j${i}`));
    bus.publish(jobs);
    expect((await drain(stream, 10)).map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    expect(bus.listenerCount).toBe(1);
    stream.close();
    expect(bus.listenerCount).toBe(0);
  });

  it('cuts the reader off with SlowConsumerError at the first job past the bound, and stops listening', async () => {
    const bus = new JobEventBus();
    const stream = new JobStream(bus, { maxPending: 10 });
    bus.publish(Array.from({ length: 11 }, (_, i) => fakeJob(`j${i}`)));
    expect(bus.listenerCount).toBe(0);
    await expect(stream.next()).rejects.toBeInstanceOf(SlowConsumerError);
    // Nothing it held is kept for it: the next read ends the stream.
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('keeps one place per job: newer states replace the waiting one, so one busy job never reaches the bound', async () => {
    const bus = new JobEventBus();
    const stream = new JobStream(bus, { maxPending: 2 });
    const id = fakeJob('a').id;
    bus.publish(Array.from({ length: 50 }, (_, i) => fakeJob('a', { id, revision: i + 1 })));
    const [only] = await drain(stream, 1);
    expect(only!.revision).toBe(50);
    expect(bus.listenerCount).toBe(1);
    stream.close();
  });
});
