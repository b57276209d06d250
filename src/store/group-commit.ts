import type { Queryable, Sql } from './db';

export interface GroupCommitOptions<I> {
  /** Most calls one transaction carries. */
  maxGroup: number;
  /** Transactions of groups under way at once. */
  parallel: number;
  /** Calls that run in a transaction of their own, never grouped (large ones, which would hold the rest up). */
  alone?: (item: I) => boolean;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: calls that arrive while a transaction of earlier ones is under way share the next one,
 * each running `work` in turn inside it. A database commits a transaction at a fixed cost (the log flush,
 * and on PostgreSQL a database-wide lock for one that notifies), so N calls in one transaction cost about
 * one commit, not N. A call that finds no transaction under way starts one at once: no wait when idle.
 * When a group's transaction fails, nothing of it was committed and each of its calls runs again in a
 * transaction of its own, so a call's failure (or a deadlock between two groups) is that call's alone.
 */
export function groupCommit<I, O>(db: Sql, work: (tx: Queryable, item: I) => Promise<O>, o: GroupCommitOptions<I>): (item: I) => Promise<O> {
  const queue: Waiting<I, O>[] = [];
  let running = 0;

  const alone = (item: I) => db.transaction((tx) => work(tx, item));

  const runGroup = async (group: Waiting<I, O>[]) => {
    if (group.length === 1) {
      const [only] = group;
      await alone(only!.item).then(only!.resolve, only!.reject);
      return;
    }
    let results: O[];
    let worked = false;
    try {
      results = await db.transaction(async (tx) => {
        const out: O[] = [];
        for (const waiting of group) out.push(await work(tx, waiting.item));
        worked = true;
        return out;
      });
    } catch (err) {
      // Every call's work went through and the commit itself failed: whether it committed is not known, so
      // the calls are told so rather than run again.
      if (worked) for (const waiting of group) waiting.reject(err);
      else await Promise.all(group.map((waiting) => alone(waiting.item).then(waiting.resolve, waiting.reject)));
      return;
    }
    group.forEach((waiting, i) => waiting.resolve(results[i]!));
  };

  const next = () => {
    while (running < o.parallel && queue.length > 0) {
      running++;
      void runGroup(queue.splice(0, o.maxGroup)).finally(() => {
        running--;
        next();
      });
    }
  };

  return (item) => {
    if (o.alone?.(item)) return alone(item);
    return new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      next();
    });
  };
}
