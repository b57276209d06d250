import type { HostScheduledTask } from '../model';
import { baseName, cut, plural, type FileLine, type Parsed } from './text';

const SYSTEM_CRONTAB = '/etc/crontab';
const CRON_D = '/etc/cron.d';
// Debian keeps user crontabs in /var/spool/cron/crontabs, RHEL in /var/spool/cron, SUSE in …/tabs.
const USER_SPOOL = /^\/var\/spool\/cron(?:\/crontabs|\/tabs)?\/([^/]+)$/;
const SPOOL_DIRS = new Set(['crontabs', 'tabs', 'atjobs', 'atspool']);

const KEYWORDS = new Set(['@reboot', '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/**
 * Cron entries from `grep -H -Z` lines of /etc/crontab and /etc/cron.d/* (with a user field) or of the
 * user crontab spool (without one; the file name is the user). Comments, blank lines and environment
 * assignments (`MAILTO=…`) are not tasks. Files whose names start with `.` are skipped, as cron does
 * (Debian's /etc/cron.d/.placeholder).
 */
export function parseCrontabs(lines: FileLine[], from: 'system' | 'spool'): Parsed<HostScheduledTask[]> {
  const tasks: HostScheduledTask[] = [];
  const malformed = new Map<string, number>();
  // grep lists a directory in the order the file system keeps it. Sort: /etc/crontab, then by file name
  // (the user, for spools); the sort is stable, so each file's lines keep their order.
  const key = (path: string) => `${path === SYSTEM_CRONTAB ? 0 : 1}\0${baseName(path)}\0${path}`;
  const byFile = [...lines].sort((a, b) => (key(a.path) < key(b.path) ? -1 : key(a.path) > key(b.path) ? 1 : 0));
  for (const { path, line } of byFile) {
    const kind = classify(path, from);
    if (kind === null) continue;
    const text = line.trim();
    if (text === '' || text.startsWith('#') || /^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(text)) continue;
    const task = parseEntry(text, kind.withUser);
    if (task === null) {
      malformed.set(path, (malformed.get(path) ?? 0) + 1);
      continue;
    }
    tasks.push({
      name: cut(task.command, 200),
      source: kind.source,
      taskPath: path,
      userName: task.user ?? kind.owner,
      schedule: task.schedule,
      command: task.command,
    });
  }
  const problems = [...malformed].map(([path, n]) => `${path}: ${n} ${plural(n, 'line')} not in the crontab format were skipped`);
  return { value: tasks, problems };
}

function classify(path: string, from: 'system' | 'spool'):
  | { source: HostScheduledTask['source']; withUser: boolean; owner: string | null }
  | null {
  if (from === 'system') {
    if (path === SYSTEM_CRONTAB) return { source: 'crontab', withUser: true, owner: null };
    if (path.startsWith(`${CRON_D}/`) && path.lastIndexOf('/') === CRON_D.length && !baseName(path).startsWith('.')) {
      return { source: 'cron.d', withUser: true, owner: null };
    }
    return null;
  }
  const m = USER_SPOOL.exec(path);
  if (!m || m[1]!.startsWith('.') || SPOOL_DIRS.has(m[1]!)) return null;
  return { source: 'user-crontab', withUser: false, owner: m[1]! };
}

/** `m h dom mon dow [user] command` or `@keyword [user] command`. */
function parseEntry(text: string, withUser: boolean): { schedule: string; user: string | null; command: string } | null {
  const fields = text.split(/\s+/);
  const timeFields = fields[0]!.startsWith('@') ? 1 : 5;
  if (timeFields === 1 && !KEYWORDS.has(fields[0]!)) return null;
  const schedule = fields.slice(0, timeFields);
  if (timeFields === 5 && !schedule.every((f) => /^[0-9A-Za-z*/,\-~]+$/.test(f))) return null;
  const user = withUser ? fields[timeFields] : null;
  const command = restAfter(text, timeFields + (withUser ? 1 : 0));
  if ((withUser && !user) || !command) return null;
  return { schedule: schedule.join(' '), user: user ?? null, command };
}

/** The text after the first `n` whitespace-separated fields, its own spacing kept. */
function restAfter(text: string, n: number): string {
  const m = new RegExp(`^(?:\\S+\\s+){${n}}`).exec(text);
  return m ? text.slice(m[0].length).trim() : '';
}
