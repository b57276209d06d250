/**
 * Polls `check` until it gives a value (anything but false, null or undefined) and returns it; after
 * `timeoutMs` fails naming `what`, so a wait that gives up says what it waited for. Tests wait for
 * conditions, never for fixed times: a sleep long enough on a quiet machine is too short on a loaded one.
 */
export async function until<T>(
  what: string,
  check: () => T | false | null | undefined | Promise<T | false | null | undefined>,
  { timeoutMs = 10_000, everyMs = 20 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
