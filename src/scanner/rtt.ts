/** Bounds of the connect timeout, in milliseconds. */
export interface ConnectTimeoutBounds {
  /** Used until the first round trip is seen. */
  initialMs: number;
  /** Never wait less, however fast the network looked. */
  minMs: number;
  /** Never wait more, however slow it looked (SCAN_CONNECT_TIMEOUT_MS). */
  maxMs: number;
}

/**
 * nmap's defaults for the minimum and the first timeout (its -T4 also starts at 500 ms); the maximum is
 * nmap -T4's 1250 ms rounded up to cover the kernel's first SYN retransmission (at 1 s) and its answer.
 */
export const DEFAULT_CONNECT_TIMEOUT: ConnectTimeoutBounds = Object.freeze({ initialMs: 1_000, minMs: 100, maxMs: 3_000 });

// Round trips ignored as evidence: a connect that took this long went through the kernel's SYN
// retransmissions (1 s, 3 s, …), so it measures a loss, not the path (nmap ignores 8 s and above likewise).
const IMPLAUSIBLE_RTT_MS = 8_000;
// How many recent answers the "slowest recent answer" term remembers.
const RECENT = 64;

/**
 * How long a TCP connect waits for any answer (SYN-ACK or RST) before the host counts as silent, learnt
 * from the round trips the scanner sees, after nmap's timing model: Jacobson's smoothed round trip and
 * its mean deviation (gains 1/8 and 1/4, first deviation the sample itself boxed to 5 ms … 2 s), timeout =
 * srtt + 4·rttvar, boxed to [minMs, maxMs]; `initialMs` until a first round trip.
 *
 * One difference, because a fleet is many paths and not one: nmap keeps such an estimate per host and
 * falls back to the group's; a scan meets each host once, so only the group estimate exists, and it
 * tracks the typical host. A host twice as far as the typical one must not be declared silent, so the
 * timeout also covers twice the slowest of the last 64 answers.
 *
 * Round trips measured here include the event loop's delay in noticing the answer, which only makes the
 * estimate cautious when the process is busy.
 */
export class ConnectTimeout {
  private srtt = -1;
  private rttvar = -1;
  private seen = 0;
  private readonly recent: number[] = [];
  private current: number;
  private toldAt: number;
  private readonly listeners = new Set<() => void>();

  constructor(readonly bounds: ConnectTimeoutBounds) {
    if (!(bounds.minMs > 0 && bounds.minMs <= bounds.maxMs)) throw new RangeError('connect timeout bounds must satisfy 0 < min ≤ max');
    this.current = box(bounds.initialMs, bounds.minMs, bounds.maxMs);
    this.toldAt = this.current;
  }

  /** The time a connect started now may wait for an answer, in whole milliseconds. */
  get ms(): number {
    return Math.ceil(this.current);
  }

  /** How long an answer usually takes: the smoothed round trip and four deviations, at least 10 ms; `minMs` before the first. */
  get expectedMs(): number {
    return this.srtt < 0 ? this.bounds.minMs : Math.max(10, this.srtt + 4 * this.rttvar);
  }

  /** Round trips seen so far. */
  get samples(): number {
    return this.seen;
  }

  /** A connect got an answer (connected or refused) after `rttMs`. */
  observe(rttMs: number): void {
    if (!(rttMs >= 0) || rttMs >= IMPLAUSIBLE_RTT_MS) return;
    if (this.srtt < 0) {
      this.srtt = rttMs;
      this.rttvar = box(rttMs, 5, 2_000);
    } else {
      const delta = rttMs - this.srtt;
      this.srtt += delta / 8;
      this.rttvar = Math.min(this.rttvar + (Math.abs(delta) - this.rttvar) / 4, 2_000);
    }
    this.seen++;
    this.recent.push(rttMs);
    if (this.recent.length > RECENT) this.recent.shift();
    const slowest = Math.max(...this.recent);
    this.current = box(Math.max(this.srtt + 4 * this.rttvar, 2 * slowest), this.bounds.minMs, this.bounds.maxMs);
    // Waiting connects are told only when the timeout fell by a quarter since they were last told: the
    // first round trips (1 s → ~100 ms) matter, the jitter after them does not.
    if (this.current < this.toldAt * 0.75) {
      this.toldAt = this.current;
      for (const listener of [...this.listeners]) listener();
    } else if (this.current > this.toldAt) {
      this.toldAt = this.current;
    }
  }

  /** `listener` runs when the timeout has shrunk markedly; returns the function that unsubscribes. */
  onShrink(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Calls `expire` with the timeout used once `timeout.ms` has passed since `startedMs` (a
 * `performance.now()` time) with no answer; a connect begun before the first round trips were seen
 * is held to the shorter timeout learnt since. The call waits one turn of the event loop after its
 * timer: an answer that arrived while the process was busy is handled first and cancels it, so a
 * blocked event loop cannot make an answering host look silent. Returns the canceller.
 */
export function armConnectDeadline(timeout: ConnectTimeout, startedMs: number, expire: (usedMs: number) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let done = false;
  const arm = () => {
    clearTimeout(timer);
    const used = timeout.ms;
    timer = setTimeout(() => {
      immediate = setImmediate(() => {
        if (done) return;
        cancel();
        expire(used);
      });
    }, Math.max(0, startedMs + used - performance.now()));
  };
  const unsubscribe = timeout.onShrink(arm);
  const cancel = () => {
    done = true;
    clearTimeout(timer);
    clearImmediate(immediate);
    unsubscribe();
  };
  arm();
  return cancel;
}

/**
 * Tells `waiting(true)` once `afterMs` have passed (and one more turn of the event loop, so an answer that
 * came while the process was busy is handled first), and `waiting(false)` when the returned function is
 * then called; before that, the returned function only cancels.
 */
export function noticeLongWait(afterMs: number, waiting: (isWaiting: boolean) => void): () => void {
  let told = false;
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(() => {
      told = true;
      waiting(true);
    });
  }, afterMs);
  return () => {
    clearTimeout(timer);
    clearImmediate(immediate);
    if (told) waiting(false);
    told = false;
  };
}

const box = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
