/**
 * A sleep that `wake()` ends early. A wake-up that arrives while nobody sleeps (the loop is busy
 * claiming) is remembered for the next sleep, not lost: otherwise the loop would sleep a whole poll
 * interval with free slots and due work.
 */
export function createLatch() {
  let wakeUp: (() => void) | null = null;
  let pending = false;
  return {
    wake(): void {
      const w = wakeUp;
      wakeUp = null;
      if (w) w();
      else pending = true;
    },
    sleep(ms: number): Promise<void> {
      return new Promise<void>((resolve) => {
        if (pending) {
          pending = false;
          return resolve();
        }
        const timer = setTimeout(() => {
          wakeUp = null;
          resolve();
        }, ms);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
