/** What a secret is replaced with. */
export const REDACTED = '[redacted]';

/**
 * A copy of `value` in which every occurrence of each secret in every string is replaced by
 * `[redacted]`. A host that received a password can send it back (in a GECOS field, an error message, a
 * disconnect reason); nothing that leaves the collector may carry it. Plain data only (no cycles).
 */
export function redactSecrets<T>(value: T, secrets: readonly string[]): T {
  const present = secrets.filter((s) => s.length > 0);
  if (present.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return present.reduce((s, secret) => (s.includes(secret) ? s.split(secret).join(REDACTED) : s), v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
