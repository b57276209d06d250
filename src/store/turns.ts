import { ActionStatus } from '../model';

/**
 * Fair turns in the lease queue. Claims take queued scans in `turn` order; a caller's new scans are
 * numbered on from the later of the queue's head (the lowest turn still queued) and one past that caller's
 * own last queued turn. So callers take turns: a caller that queues 10,000 scans holds turns head … head +
 * 9,999, and another caller's scan queued meanwhile gets the head's turn and is leased in the next claim,
 * while one caller alone is served in the order it asked (the order before turns existed). This is
 * start-time fair queuing with one lane per caller: a lane per call would let a caller that splits its
 * batch into single-host calls push everyone else back again.
 *
 * Two schedules of one caller at once may draw the same turns; ties go by `run_after`, which is harmless.
 * Both lookups are one step down a partial index (host_scans_turns, host_scans_lanes; migration 11).
 */
export function firstTurn(lane: string): string {
  return `greatest(
    coalesce((SELECT min(turn) FROM host_scans WHERE status = ${ActionStatus.Queued}), 0),
    coalesce((SELECT max(turn) + 1 FROM host_scans WHERE status = ${ActionStatus.Queued} AND lane = ${lane}), 0))`;
}

/** The order claims take due scans in; the index host_scans_turns serves it. */
export const TURN_ORDER = 'ORDER BY turn, run_after';
