import { parseId } from './passwd';
import { DEFAULT_LINE_LIMITS, plural, textLines, type LineLimits, type Parsed } from './text';

/** One /etc/group record. */
export interface GroupEntry {
  name: string;
  gid: number;
  /** The members listed in the record, in order, without blanks or repeats. */
  members: string[];
}

/**
 * /etc/group records (`name:password:gid:member,member`). NIS compat and blank lines are passed over;
 * malformed lines are skipped and counted; for a repeated name the first record wins.
 */
export function parseGroup(text: string, limits: LineLimits = DEFAULT_LINE_LIMITS): Parsed<GroupEntry[]> {
  const { value: lines, problems } = textLines(text, '/etc/group', limits);
  const entries: GroupEntry[] = [];
  const seen = new Set<string>();
  let malformed = 0;
  let repeated = 0;
  for (const line of lines) {
    if (line.trim() === '' || line.startsWith('+') || line.startsWith('-') || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = parseId(f[2] ?? '');
    if (f.length !== 4 || !f[0] || gid === null) {
      malformed++;
      continue;
    }
    if (seen.has(f[0])) {
      repeated++;
      continue;
    }
    seen.add(f[0]);
    const members = [...new Set(f[3]!.split(',').map((m) => m.trim()).filter(Boolean))];
    entries.push({ name: f[0], gid, members });
  }
  if (malformed) problems.push(`/etc/group: ${malformed} ${plural(malformed, 'line')} not in the group format were skipped`);
  if (repeated) problems.push(`/etc/group: ${repeated} repeated group ${plural(repeated, 'name')}; the first record of each was kept`);
  return { value: entries, problems };
}
