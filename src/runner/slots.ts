// Most scans one claim asks for; a claim is one statement, and its lease list is one array parameter.
const MAX_CLAIM = 256;

/**
 * How many scans the runner may lease now. `probing` scans talk to their host; `ready` ones were leased
 * ahead and wait for a slot, so that a slot that frees starts its next scan at once instead of after a
 * round trip to the store; `reserved` are promised to claims under way, so two claims at once cannot
 * overfill the runner. Only claims that ride with written results lease ahead (scans are finishing,
 * so slots are freeing), and as many as slots free while one batch is written — concurrency × write
 * time ÷ scan time, from moving averages: none when scans are slow, so waiting work stays Queued and
 * free for other instances; up to `concurrency` when they are fast.
 */
export class SlotBudget {
  probing = 0;
  private reserved = 0;
  private scanMs = 0;
  private writeMs = 0;

  constructor(
    readonly concurrency: number,
    /** A fixed read-ahead instead of the measured one (tests). */
    private readonly fixedReadAhead?: number,
  ) {}

  /** Scans to ask for now, given `ready` waiting ones; `ahead` for claims that ride with written results. */
  wanted(ready: number, ahead: boolean): number {
    const room = this.concurrency + (ahead ? this.readAhead() : 0) - this.probing - ready - this.reserved;
    return Math.max(0, Math.min(room, MAX_CLAIM));
  }

  readAhead(): number {
    if (this.fixedReadAhead !== undefined) return this.fixedReadAhead;
    return this.scanMs > 0 ? Math.min(this.concurrency, Math.round((this.concurrency * this.writeMs) / this.scanMs)) : 0;
  }

  get hasFreeSlot(): boolean {
    return this.probing < this.concurrency;
  }

  reserve(n: number): void {
    this.reserved += n;
  }

  unreserve(n: number): void {
    this.reserved -= n;
  }

  scanStarted(): void {
    this.probing++;
  }

  scanEnded(ms: number): void {
    this.probing--;
    this.scanMs = average(this.scanMs, ms);
  }

  wrote(ms: number): void {
    this.writeMs = average(this.writeMs, ms);
  }
}

const average = (avg: number, sample: number) => (avg === 0 ? sample : avg + 0.2 * (sample - avg));
