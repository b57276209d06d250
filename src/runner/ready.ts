import type { ClaimedScan } from '../store';

/**
 * Scans leased ahead that wait for a free slot, served round-robin across lanes (the callers that
 * scheduled them), first come, first served within one. The store hands out leases in fair turns; this
 * keeps them fair on the way to a slot: up to SCAN_CONCURRENCY scans may wait here, and another caller's
 * scan leased behind a batch's read-ahead would otherwise wait for all of it.
 */
export class ReadyQueue {
  /** Per lane, its scans in the order leased; a lane is dropped when empty, so iteration order is the rotation. */
  private readonly lanes = new Map<string, ClaimedScan[]>();
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(scans: readonly ClaimedScan[]): void {
    for (const scan of scans) {
      const lane = this.lanes.get(scan.lane);
      if (lane) lane.push(scan);
      else this.lanes.set(scan.lane, [scan]);
    }
    this.size += scans.length;
  }

  /** The next scan to start: the first of the lane whose turn it is; that lane goes to the back. */
  next(): ClaimedScan | undefined {
    const first = this.lanes.entries().next();
    if (first.done) return undefined;
    const [name, scans] = first.value;
    const scan = scans.shift()!;
    this.lanes.delete(name);
    if (scans.length > 0) this.lanes.set(name, scans);
    this.size--;
    return scan;
  }

  ids(): string[] {
    return [...this.lanes.values()].flatMap((scans) => scans.map((s) => s.id));
  }

  /** Take these scans out; returns those that were waiting. */
  take(scanIds: readonly string[]): ClaimedScan[] {
    const ids = new Set(scanIds);
    const taken: ClaimedScan[] = [];
    for (const [name, scans] of this.lanes) {
      const kept = scans.filter((s) => !ids.has(s.id));
      if (kept.length === scans.length) continue;
      taken.push(...scans.filter((s) => ids.has(s.id)));
      if (kept.length > 0) this.lanes.set(name, kept);
      else this.lanes.delete(name);
    }
    this.size -= taken.length;
    return taken;
  }

  /** Take every waiting scan out. */
  drain(): ClaimedScan[] {
    const all = [...this.lanes.values()].flat();
    this.lanes.clear();
    this.size = 0;
    return all;
  }
}
