import { LRUCache } from 'lru-cache';
import type { JobEventBus } from './events';
import type { Job } from './model';

/**
 * The latest known state of recently seen jobs, kept current by the event bus: every committed change is
 * published there (by this instance, or relayed from others over NOTIFY or EVENTS_URL), so a cached job is never older
 * than the last change this instance heard of. A state published but not yet delivered to the cache (a
 * large burst is delivered over several turns) makes the cached one a miss. While changes from other
 * instances may be going unheard (the listening connection is down, or a probe did not come back) the
 * cache is switched off and emptied, until the fallback poll has read what was missed.
 */
export class JobCache {
  private readonly jobs: LRUCache<string, Job>;
  private trusted = true;
  private readonly unsubscribe: () => void;

  constructor(private readonly events: JobEventBus, max = 10_000) {
    this.jobs = new LRUCache({ max });
    this.unsubscribe = events.subscribe((job) => {
      if (this.jobs.has(job.id)) this.put(job);
    });
  }

  get(id: string): Job | undefined {
    if (!this.trusted) return undefined;
    const job = this.jobs.get(id);
    if (job && (this.events.latestRevision(id) ?? -1) > job.revision) return undefined;
    return job;
  }

  /**
   * Remember a job read from the store, unless a newer state is already known: cached, or published
   * while the read was under way (the read may have started before that change committed).
   */
  put(job: Job): void {
    if (!this.trusted) return;
    const known = this.jobs.peek(job.id);
    if (known && known.revision > job.revision) return;
    if ((this.events.latestRevision(job.id) ?? -1) > job.revision) return;
    this.jobs.set(job.id, job);
  }

  /** Forget everything (a change that was not published, such as a host removal). */
  clear(): void {
    this.jobs.clear();
  }

  /** Stop serving (and forget) while changes may be going unheard; serve again once they are heard. */
  setTrusted(trusted: boolean): void {
    this.trusted = trusted;
    if (!trusted) this.jobs.clear();
  }

  stop(): void {
    this.unsubscribe();
    this.jobs.clear();
  }
}
