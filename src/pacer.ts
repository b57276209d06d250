/**
 * Cooperative time slices for work that arrives in bursts (fan-out of job changes to many sockets).
 * Callers ask `pace()` before each unit of work. The first call in a turn of the event loop opens a
 * slice; once the slice has run for `sliceMs`, `pace()` returns a promise that resolves on a later turn
 * (setImmediate), so timers, I/O, health checks and lease heartbeats run in between instead of waiting
 * behind the whole burst. Within a slice it returns null, so the common case costs no promise.
 */
export interface Pacer {
  pace(): Promise<void> | null;
}

export function createPacer(sliceMs = 4): Pacer {
  let open = false;
  let sliceStart = 0;
  let turn: Promise<void> | null = null;
  const close = () => {
    open = false;
  };
  return {
    pace() {
      if (turn) return turn;
      const now = performance.now();
      if (!open) {
        open = true;
        sliceStart = now;
        setImmediate(close);
        return null;
      }
      if (now - sliceStart < sliceMs) return null;
      turn = new Promise<void>((resolve) =>
        setImmediate(() => {
          turn = null;
          open = false;
          resolve();
        }),
      );
      return turn;
    },
  };
}
