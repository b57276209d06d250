import { judgeAccounts } from './accounts';
import { PARTS, type PartName } from './commands';
import type { InventorySnapshot } from './model';
import { parseCrontabs } from './parse/crontab';
import { parseGroup } from './parse/group';
import { parseOsRelease } from './parse/os-release';
import { parsePasswd } from './parse/passwd';
import { parseShadow } from './parse/shadow';
import { parseSudoers } from './parse/sudoers';
import { parseUnitFiles, parseUnitSettings, servicesOf, timersOf } from './parse/systemd';
import { clean, DEFAULT_LINE_LIMITS, fileLines, splitLines, type LineLimits, type Parsed } from './parse/text';

/** What one part's command gave: its (bounded) output, or why there is none, in words. */
export type PartResult =
  | {
      ok: true;
      text: string;
      /** Set when the output was cut at this many bytes. */
      cutAtBytes: number | null;
      /** Set when only some of the part's files could be read: why the others could not. */
      partly?: string;
    }
  | { ok: false; problem: string };

export type PartResults = Readonly<Record<PartName, PartResult>>;

/**
 * The snapshot from every part's result. Pure: the same results give the same snapshot. A part that
 * failed, was cut or had lines the parser could not use becomes a note naming it and what the snapshot
 * lacks for it; everything else is still filled in.
 */
export function buildSnapshot(parts: PartResults, today: number, limits: LineLimits = DEFAULT_LINE_LIMITS): InventorySnapshot {
  const notes: string[] = [];
  const text = (name: PartName): string | null => {
    const r = parts[name];
    const part = PARTS[name];
    if (!r.ok) {
      if (part.lost !== null) notes.push(`${part.what} could not be read (${r.problem}); ${part.lost}`);
      return null;
    }
    if (r.partly) notes.push(`${part.what} was only partly read (${r.partly}); ${part.lost ?? 'some of it is missing'}`);
    if (r.cutAtBytes !== null) notes.push(`${part.what}: only the first ${r.cutAtBytes} bytes were read; the rest was left out`);
    return r.text;
  };
  // A parser that throws on some input it was not written for must cost one part, not the scan.
  const parse = <T>(name: PartName, f: (text: string) => Parsed<T>): T | null => {
    const t = text(name);
    if (t === null) return null;
    try {
      const { value, problems } = f(t);
      notes.push(...problems);
      return value;
    } catch {
      notes.push(`${PARTS[name].what} could not be parsed; ${PARTS[name].lost ?? 'it was left out'}`);
      return null;
    }
  };
  const files = (name: PartName) => (t: string) => fileLines(t, PARTS[name].what, limits);

  const os = parse('osRelease', (t) => parseOsRelease(t, limits));
  const hostName = firstLine(text('hostName'));
  const fqdn = firstLine(text('dnsHostName'));
  const passwd = parse('passwd', (t) => parsePasswd(t, limits)) ?? [];
  const groups = parse('group', (t) => parseGroup(t, limits)) ?? [];
  const shadow = parse('shadow', (t) => parseShadow(t, limits));
  const sudo = parse('sudoers', (t) => chain(files('sudoers')(t), parseSudoers));
  const systemCron = parse('systemCrontabs', (t) => chain(files('systemCrontabs')(t), (l) => parseCrontabs(l, 'system'))) ?? [];
  const userCron = parse('userCrontabs', (t) => chain(files('userCrontabs')(t), (l) => parseCrontabs(l, 'spool'))) ?? [];
  const units = parse('unitFiles', (t) => parseUnitFiles(t, limits)) ?? [];
  const settings = parse('unitSettings', (t) => chain(files('unitSettings')(t), (l) => ({ value: parseUnitSettings(l), problems: [] }))) ?? new Map();

  const accounts = judgeAccounts({ passwd, groups, shadow, sudo, today });
  return {
    os: os?.os ?? null,
    version: os?.version ?? null,
    hostName,
    dnsHostName: fqdn !== null && fqdn.includes('.') ? fqdn : null,
    users: accounts.users,
    groups: accounts.groups,
    services: servicesOf(units, settings),
    scheduledTasks: [...systemCron, ...userCron, ...timersOf(units, settings)],
    notes,
  };
}

function chain<A, B>(first: Parsed<A>, then: (a: A) => Parsed<B>): Parsed<B> {
  const second = then(first.value);
  return { value: second.value, problems: [...first.problems, ...second.problems] };
}

function firstLine(text: string | null): string | null {
  if (text === null) return null;
  const line = clean(splitLines(text, { maxLines: 1, maxLineLength: 255 }).lines[0]?.trim() ?? '');
  return line === '' ? null : line;
}

/** Today as whole days since 1970-01-01 UTC, as /etc/shadow counts. */
export function daysSinceEpoch(now: Date): number {
  return Math.floor(now.getTime() / 86_400_000);
}
