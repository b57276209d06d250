import { availableParallelism } from 'node:os';
import { Algorithm, hash as argonHash, verify as argonVerify } from '@node-rs/argon2';

// Argon2id at OWASP's 19 MiB, 2 passes, 1 lane: about 12 ms a hash on this project's 2-core machine
// (46 MiB × 1 pass took 32 ms, 64 MiB × 2 passes 81 ms), so one core signs in ~80 people a second and
// the event loop never waits: @node-rs/argon2's async calls run on libuv's thread pool.
const PARAMETERS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

// libuv's pool has four threads by default: four hashes at once on two cores leave the event loop, and
// the pool's other users (dns.lookup for every scanned name, fs), waiting behind them. At most one hash
// fewer than there are cores runs at once; the rest queue here (a dozen lines, where p-limit 4+ is ESM only).
const gated = createGate(Math.max(1, availableParallelism() - 1));

/** Runs at most `limit` of the works given to it at once, the others in the order they came. */
export function createGate(limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await work();
    } finally {
      // The slot passes to the next waiter as it is, or is given back.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
const hash = (password: string, options: typeof PARAMETERS) => gated(() => argonHash(password, options));
const verify = (phc: string, password: string) => gated(() => argonVerify(phc, password));

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/** The PHC string of `password` (salted, parameters inside). */
export function hashPassword(password: string): Promise<string> {
  return hash(password, PARAMETERS);
}

// A real hash of a random password, verified when the user does not exist, so the time taken does not
// tell an unknown user from a wrong password.
let dummy: Promise<string> | null = null;

/** Whether `password` matches `phc`; with `phc` null, spends the same time and answers false. */
export async function verifyPassword(phc: string | null, password: string): Promise<boolean> {
  if (phc === null) {
    dummy ??= hashPassword(`dummy-${Math.random()}-${Date.now()}`);
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  try {
    return await verify(phc, password);
  } catch {
    return false;
  }
}
