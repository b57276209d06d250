/** Delays that double from `initialMs` up to `maxMs` while failures repeat; `reset()` after a success. */
export function createBackoff(initialMs = 250, maxMs = 5_000) {
  let current = 0;
  return {
    /** The delay before the next attempt. */
    next(): number {
      current = current === 0 ? initialMs : Math.min(current * 2, maxMs);
      return current;
    },
    reset(): void {
      current = 0;
    },
  };
}
