import type { WebSocket } from 'ws';
import type { ErrorCode } from '../errors';
import type { RequestCode } from './errors';

export interface KeyRefusal {
  code: Extract<RequestCode | ErrorCode, 'BAD_REQUEST' | 'UNAVAILABLE'>;
  message: string;
}

/**
 * Bounds the distinct subscription keys (see subscriptionKey) one subject holds and this instance holds
 * in all: each distinct key costs one execution per event, so these bounds bound the work per event,
 * whatever the number of subscriptions sharing them. Every subscription's key is recorded under its
 * socket and id, and released when it completes or its socket closes.
 */
export function createKeyLimits(perSubject: number, total: number) {
  const users = new Map<string, number>();
  const bySubject = new Map<string, Map<string, number>>();
  const holds = new WeakMap<WebSocket, Map<string, { subject: string; key: string }>>();
  let held = 0;

  const add = (counts: Map<string, number>, key: string, by: number) => {
    const n = (counts.get(key) ?? 0) + by;
    if (n > 0) counts.set(key, n);
    else counts.delete(key);
  };

  return {
    /** Record a subscription's key, or say why it is refused (nothing recorded then). */
    acquire(socket: WebSocket, id: string, subject: string, key: string): KeyRefusal | null {
      const mine = bySubject.get(subject) ?? new Map<string, number>();
      if (!mine.has(key) && mine.size >= perSubject) {
        return { code: 'BAD_REQUEST', message: `This token's subject already holds ${perSubject} distinct subscriptions; reuse one of them (documents that differ only in comments, layout or jobIds count once).` };
      }
      if (!users.has(key) && users.size >= total) {
        return { code: 'UNAVAILABLE', message: 'This instance serves as many distinct subscriptions as it allows; try again later or reuse a common one.' };
      }
      bySubject.set(subject, mine);
      add(mine, key, 1);
      add(users, key, 1);
      let socketHolds = holds.get(socket);
      if (!socketHolds) holds.set(socket, (socketHolds = new Map()));
      socketHolds.set(id, { subject, key });
      held++;
      return null;
    },
    release(socket: WebSocket, id: string): void {
      const socketHolds = holds.get(socket);
      const hold = socketHolds?.get(id);
      if (!hold) return;
      socketHolds!.delete(id);
      held--;
      add(users, hold.key, -1);
      const mine = bySubject.get(hold.subject)!;
      add(mine, hold.key, -1);
      if (mine.size === 0) bySubject.delete(hold.subject);
    },
    releaseSocket(socket: WebSocket): void {
      for (const id of [...(holds.get(socket)?.keys() ?? [])]) this.release(socket, id);
    },
    /** Subscriptions recorded now. */
    get held() {
      return held;
    },
  };
}
