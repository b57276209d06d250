import { randomUUID } from 'node:crypto';

/**
 * Proves that a notification path delivers: a probe sent on it must come back to this process's own
 * listener in time. Nothing else shows that a listener is deaf (a pooler that drops notifications
 * says nothing to the client).
 */
export function createListenCheck(o: { probe(token: string): Promise<void>; timeoutMs: number }) {
  const waiting = new Map<string, () => void>();
  return {
    /** Tell the check that a probe came back. */
    heard(token: string): void {
      waiting.get(token)?.();
    },
    /** Send one probe: null when it came back within the timeout, else why not. */
    async run(): Promise<string | null> {
      const token = randomUUID();
      let timer: NodeJS.Timeout | undefined;
      // Waiting before sending: the probe may come back before the send resolves.
      const back = new Promise<null>((resolve) => waiting.set(token, () => resolve(null)));
      const late = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`a probe sent on it did not come back within ${o.timeoutMs} ms`), o.timeoutMs);
      });
      try {
        // A send that hangs (a transport buffering while it reconnects) counts as not coming back.
        const sent = o.probe(token).then(
          () => back,
          // The code only: a driver's message may quote a connection URL.
          (err: unknown) => `a probe could not be sent (${(err as { code?: string }).code ?? (err as Error).name ?? 'error'})`,
        );
        return await Promise.race([sent, late]);
      } finally {
        clearTimeout(timer);
        waiting.delete(token);
      }
    },
  };
}
