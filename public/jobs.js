// The jobs the page knows, each at its newest revision. Mutation replies, query results and subscription
// events for one job reach the page in any order (a reply can arrive after the events that followed it),
// so a state replaces the known one only when its revision is at least as large.

// Facts about a job that never change, whichever state carried them.
const FIXED = ['createdBy', 'createdByUserName', 'createdFromAddress', 'createdDateTimeUtc', 'nodeId'];

export function createJobStore() {
  const jobs = new Map();

  return {
    /** Take `job` if it is not older than what is known; returns whether anything the page shows changed. */
    merge(job) {
      const known = jobs.get(job.id);
      if (known && known.revision > job.revision) {
        const missing = FIXED.filter((key) => known[key] == null && job[key] != null);
        for (const key of missing) known[key] = job[key];
        return missing.length > 0;
      }
      // Subscription states lack the creation time; until a query brings it, first sight stands in for it.
      jobs.set(job.id, { seenAt: known?.seenAt ?? new Date().toISOString(), ...known, ...job });
      return true;
    },

    get: (id) => jobs.get(id),

    /** Newest first: by creation time where known, else by when the page first saw the job. */
    list() {
      const key = (job) => job.createdDateTimeUtc ?? job.seenAt;
      return [...jobs.values()].sort((a, b) => key(b).localeCompare(key(a)));
    },

    clear() {
      jobs.clear();
    },

    get size() {
      return jobs.size;
    },
  };
}
