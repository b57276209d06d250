// Most scans one claim asks for; a claim is one statement, and its lease list is one array parameter.
const MAX_CLAIM = 256;

/**
 * How many scans the runner may lease now. `probing` scans run, and those of them not merely waiting for a
 * silent host are `talking`: up to `concurrency` run, and of them up to `talkingConcurrency` talk, since
 * talking scans share the CPU and the store and take as long as all of them together (Little's law),
 * while waiting ones cost nothing but a socket. `ready` ones were leased
 * ahead and wait for a slot, so that a slot that frees starts its next scan at once instead of after a
 * round trip to the store; `reserved` are promised to claims under way, so two claims at once cannot
 * overfill the runner. Only claims that ride with written results lease ahead (scans are finishing,
 * so slots are freeing), and as many as slots free while one batch is written — concurrency × write
 * time ÷ scan time, from moving averages: none when scans are slow, so waiting work stays Queued and
 * free for other instances; up to `concurrency` when they are fast.
 */
export class SlotBudget {
  probing = 0;
  /** Probing scans not merely waiting for a silent host (see ScanOptions.waiting). */
  private talking = 0;
  private reserved = 0;
  private scanMs = 0;
  private writeMs = 0;

  constructor(
    readonly concurrency: number,
    /** Scans that talk to their hosts at once; the rest of `concurrency` is for scans waiting on silent hosts. */
    readonly talkingConcurrency = concurrency,
    /** A fixed read-ahead instead of the measured one (tests). */
    private readonly fixedReadAhead?: number,
  ) {}

  /** Scans to ask for now, given `ready` waiting ones; `ahead` for claims that ride with written results. */
  wanted(ready: number, ahead: boolean): number {
    const free = Math.min(this.concurrency - this.probing, this.talkingConcurrency - this.talking);
    const room = free + (ahead ? this.readAhead() : 0) - ready - this.reserved;
    return Math.max(0, Math.min(room, MAX_CLAIM));
  }

  readAhead(): number {
    if (this.fixedReadAhead !== undefined) return this.fixedReadAhead;
    const slots = Math.min(this.concurrency, this.talkingConcurrency);
    return this.scanMs > 0 ? Math.min(slots, Math.round((slots * this.writeMs) / this.scanMs)) : 0;
  }

  get hasFreeSlot(): boolean {
    return this.probing < this.concurrency && this.talking < this.talkingConcurrency;
  }

  reserve(n: number): void {
    this.reserved += n;
  }

  unreserve(n: number): void {
    this.reserved -= n;
  }

  scanStarted(): void {
    this.probing++;
    this.talking++;
  }

  /** A scan began (`true`) or stopped (`false`) merely waiting for a silent host. */
  scanWaiting(isWaiting: boolean): void {
    this.talking += isWaiting ? -1 : 1;
  }

  /** `waiting`: whether the scan was merely waiting when it ended. */
  scanEnded(ms: number, waiting = false): void {
    this.probing--;
    if (!waiting) this.talking--;
    this.scanMs = average(this.scanMs, ms);
  }

  wrote(ms: number): void {
    this.writeMs = average(this.writeMs, ms);
  }
}

const average = (avg: number, sample: number) => (avg === 0 ? sample : avg + 0.2 * (sample - avg));
