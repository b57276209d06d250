import { DEFAULT_LINE_LIMITS, plural, textLines, type LineLimits, type Parsed } from './text';

/** One /etc/passwd record. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

/** A uid or gid as passwd(5) and group(5) write it: a decimal number that fits in 32 bits. */
export function parseId(field: string): number | null {
  if (!/^\d{1,10}$/.test(field)) return null;
  const n = Number(field);
  return n <= 0xffff_ffff ? n : null;
}

/**
 * /etc/passwd records (`name:password:uid:gid:gecos:home:shell`). NIS compat lines (`+…`, `-…`) and blank
 * lines are not accounts and are passed over; malformed lines are skipped and counted; for a repeated
 * name the first record wins, as getpwnam(3) returns it.
 */
export function parsePasswd(text: string, limits: LineLimits = DEFAULT_LINE_LIMITS): Parsed<PasswdEntry[]> {
  const { value: lines, problems } = textLines(text, '/etc/passwd', limits);
  const entries: PasswdEntry[] = [];
  const seen = new Set<string>();
  let malformed = 0;
  let repeated = 0;
  for (const line of lines) {
    if (line.trim() === '' || line.startsWith('+') || line.startsWith('-') || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = parseId(f[2] ?? '');
    const gid = parseId(f[3] ?? '');
    if (f.length !== 7 || !f[0] || uid === null || gid === null) {
      malformed++;
      continue;
    }
    if (seen.has(f[0])) {
      repeated++;
      continue;
    }
    seen.add(f[0]);
    entries.push({ name: f[0], uid, gid, gecos: f[4]!, home: f[5]!, shell: f[6]! });
  }
  if (malformed) problems.push(`/etc/passwd: ${malformed} ${plural(malformed, 'line')} not in the passwd format were skipped`);
  if (repeated) problems.push(`/etc/passwd: ${repeated} repeated user ${plural(repeated, 'name')}; the first record of each was kept`);
  return { value: entries, problems };
}
