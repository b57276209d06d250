import { DEFAULT_LINE_LIMITS, plural, textLines, type LineLimits, type Parsed } from './text';

/** What /etc/shadow says about whether an account can log in. Never carries the password field itself. */
export interface ShadowStatus {
  name: string;
  /** Why the password cannot be used, in words, or null when it can (or is empty). */
  passwordLock: string | null;
  /** The account's expiry as days since 1970-01-01 (shadow(5) field 8), or null when it has none. */
  expiresOnDay: number | null;
}

/**
 * Lock and expiry state from shadow(5) lines. Only the first character of the password field is looked at
 * (`!` locked by `passwd -l`/`usermod -L`, `!!` never set, `*` no password login); the rest of the field
 * is not kept, so a full line from a real /etc/shadow is safe to pass. The collector sends even less:
 * the host strips the field to its first character before it is sent (see `commands.ts`).
 */
export function parseShadow(text: string, limits: LineLimits = DEFAULT_LINE_LIMITS): Parsed<ShadowStatus[]> {
  const { value: lines, problems } = textLines(text, '/etc/shadow', limits);
  const entries: ShadowStatus[] = [];
  let malformed = 0;
  for (const line of lines) {
    if (line.trim() === '' || line.startsWith('+') || line.startsWith('-')) continue;
    const f = line.split(':');
    if (f.length < 2 || !f[0]) {
      malformed++;
      continue;
    }
    const expiry = /^\d{1,9}$/.test(f[7] ?? '') ? Number(f[7]) : null;
    entries.push({ name: f[0], passwordLock: lockOf(f[1]![0]), expiresOnDay: expiry && expiry > 0 ? expiry : null });
  }
  if (malformed) problems.push(`/etc/shadow: ${malformed} ${plural(malformed, 'line')} not in the shadow format were skipped`);
  return { value: entries, problems };
}

function lockOf(first: string | undefined): string | null {
  if (first === '!') return 'password locked (/etc/shadow password starts with !)';
  if (first === '*') return 'no password login (/etc/shadow password is *)';
  return null;
}
