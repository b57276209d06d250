// How many recent retries decide whether retrying still pays, and how often a retry is tried anyway once
// it stopped paying, so that a network that starts losing packets is noticed again.
const WINDOW = 32;
const PROBE_EVERY = 16;

/**
 * Whether a connect that got no answer is worth one more try. A retry costs its host's scan a second
 * connect timeout, so it is spent only where it can find something, as nmap raises a host's retries only
 * once retransmissions have drawn answers:
 * - only on a host that answered on its other port (it is up: the silence may be one lost SYN or SYN-ACK).
 *   A host silent on both ports is filtered or down, and a retry would double the cost of every such host;
 * - only while retries pay: once the last 32 found nothing, one eligible connect in 16 is retried, to
 *   see whether that has changed.
 */
export class RetryPolicy {
  private readonly outcomes: boolean[] = [];
  private skipped = 0;

  /** Decide for a connect that got no answer on a host that answered elsewhere. */
  shouldRetry(): boolean {
    if (this.outcomes.length < WINDOW || this.outcomes.includes(true)) return true;
    this.skipped = (this.skipped + 1) % PROBE_EVERY;
    return this.skipped === 0;
  }

  /** Tell whether a retry got an answer. */
  record(answered: boolean): void {
    this.outcomes.push(answered);
    if (this.outcomes.length > WINDOW) this.outcomes.shift();
  }
}
