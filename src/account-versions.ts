import type { Logger } from 'pino';
import type { Store } from './store';

export interface AccountVersionOptions {
  store: Pick<Store, 'accounts' | 'accountChanges'>;
  /** The version this instance holds for a subject (undefined: none). */
  current(subject: string): number | undefined;
  /** Every subject this instance holds a version for. */
  subjects(): Iterable<string>;
  /** Told of every subject whose version changed (-1: none of its tokens is honoured). */
  onChange(subject: string, version: number): void;
  /** How often every version is read again, whatever LISTEN hears. */
  recheckMs: number;
  logger: Logger;
}

/**
 * Keeps this instance's account token versions in step with the ones other instances commit (PostgreSQL).
 * LISTEN carries a revocation at once; behind a pooler in transaction mode it hears nothing and says
 * nothing, so every version is also read again every `recheckMs` and after a lost connection. An account
 * this instance holds a version for (from the store, or from a token it verified) that is gone from the
 * store was deleted: none of its tokens is honoured.
 */
export async function followAccountVersions(o: AccountVersionOptions): Promise<{ stop(): Promise<void> }> {
  const set = (subject: string, version: number) => {
    if (o.current(subject) !== version) o.onChange(subject, version);
  };
  // A read that began before LISTEN told of a change is older than it: it must not undo that change.
  let heard = 0;
  const heardAt = new Map<string, number>();
  const onChange = (subject: string, version: number) => {
    heardAt.set(subject, ++heard);
    set(subject, version);
  };
  let failing = false;
  let reading: Promise<void> | null = null;
  const readAll = () => {
    const began = heard;
    const newer = (subject: string) => (heardAt.get(subject) ?? 0) > began;
    return (reading ??= o.store.accounts
      .tokenVersions()
      .then(
        (versions) => {
          failing = false;
          for (const subject of [...o.subjects()]) if (!versions.has(subject) && !newer(subject)) set(subject, -1);
          versions.forEach((version, subject) => newer(subject) || set(subject, version));
          // What was heard before this read began, the read has too.
          for (const [subject, at] of heardAt) if (at <= began) heardAt.delete(subject);
        },
        (err: unknown) => {
          if (!failing) o.logger.warn({ err }, 'could not read account token versions; revocations from other instances may wait for the next read');
          failing = true;
        },
      )
      .finally(() => (reading = null)));
  };

  const unlisten = o.store.accountChanges ? await o.store.accountChanges.listen({ onChange, onReconnect: () => void readAll() }) : null;
  const timer = o.store.accountChanges ? setInterval(() => void readAll(), o.recheckMs) : null;
  timer?.unref();
  return {
    async stop() {
      if (timer) clearInterval(timer);
      await unlisten?.();
      await reading;
    },
  };
}
