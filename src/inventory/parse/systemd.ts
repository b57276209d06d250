import { ServiceStartType, type HostScheduledTask, type HostService } from '../model';
import { cut, plural, textLines, DEFAULT_LINE_LIMITS, type FileLine, type LineLimits, type Parsed } from './text';

/** One row of `systemctl list-unit-files --no-legend`: the unit and its unit-file state. */
export interface UnitFile {
  name: string;
  state: string;
}

/**
 * How a unit-file state maps to the vendor's start types (Boot and System are Windows driver types and
 * are never used). Enabled units start at boot: Automatic. Disabled, static (no [Install]: started as a
 * dependency or by activation), indirect and linked units start only when something asks: Manual.
 * Masked units cannot start at all: Disabled. Aliases are other names of a listed unit and are not rows.
 */
export const START_TYPE_BY_STATE: Readonly<Record<string, ServiceStartType>> = {
  enabled: ServiceStartType.Automatic,
  'enabled-runtime': ServiceStartType.Automatic,
  generated: ServiceStartType.Automatic,
  static: ServiceStartType.Manual,
  disabled: ServiceStartType.Manual,
  indirect: ServiceStartType.Manual,
  linked: ServiceStartType.Manual,
  'linked-runtime': ServiceStartType.Manual,
  transient: ServiceStartType.Manual,
  masked: ServiceStartType.Disabled,
  'masked-runtime': ServiceStartType.Disabled,
};

/** Timers in these states never fire, so they are not scheduled tasks. */
const IDLE_TIMER_STATES = new Set(['disabled', 'masked', 'masked-runtime', 'bad']);

const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|timer)$/;

/** Rows of `systemctl list-unit-files --type=service,timer --no-pager --no-legend`. */
export function parseUnitFiles(text: string, limits: LineLimits = DEFAULT_LINE_LIMITS): Parsed<UnitFile[]> {
  const { value: lines, problems } = textLines(text, 'systemctl list-unit-files', limits);
  const units: UnitFile[] = [];
  let malformed = 0;
  for (const line of lines) {
    const [name, state] = line.trim().split(/\s+/);
    if (!name) continue;
    if (!state || !UNIT_NAME.test(name)) malformed++;
    else units.push({ name, state });
  }
  if (malformed) problems.push(`systemctl list-unit-files: ${malformed} ${plural(malformed, 'line')} were not understood`);
  return { value: units, problems };
}

// Lower index wins, as systemd's unit search path orders them; /lib and /usr/lib are one on merged-/usr hosts.
const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

/** The settings of one unit that the inventory uses, after drop-ins. */
export interface UnitSettings {
  /** The main unit file. */
  path: string;
  description: string | null;
  user: string | null;
  execStart: string | null;
  /** A timer's `Unit=`. */
  unit: string | null;
  /** A timer's `OnCalendar=`/`On…Sec=` settings, as `Key=value`. */
  triggers: string[];
}

/**
 * Unit settings from `grep -H -Z` lines of unit files and their `NAME.d/*.conf` drop-ins in the unit
 * directories. The main file is the first found in search-path order; drop-ins apply in file-name
 * order, a higher directory's file replacing a lower one's of the same name; a later `User=` wins and an
 * empty `ExecStart=`/`OnCalendar=` resets, as systemd does. Continued (`\`) lines keep only their first line.
 */
export function parseUnitSettings(lines: FileLine[]): Map<string, UnitSettings> {
  const files = new Map<string, FileLine[]>();
  for (const l of lines) {
    let list = files.get(l.path);
    if (!list) files.set(l.path, (list = []));
    list.push(l);
  }
  const mains = new Map<string, { rank: number; path: string }>();
  const dropIns = new Map<string, Map<string, { rank: number; path: string }>>();
  for (const path of files.keys()) {
    const rank = UNIT_DIRS.findIndex((d) => path.startsWith(`${d}/`));
    if (rank < 0) continue;
    const rel = path.slice(UNIT_DIRS[rank]!.length + 1);
    const parts = rel.split('/');
    if (parts.length === 1 && UNIT_NAME.test(rel)) {
      if ((mains.get(rel)?.rank ?? Infinity) > rank) mains.set(rel, { rank, path });
    } else if (parts.length === 2 && parts[0]!.endsWith('.d') && parts[1]!.endsWith('.conf')) {
      const unit = parts[0]!.slice(0, -2);
      let byName = dropIns.get(unit);
      if (!byName) dropIns.set(unit, (byName = new Map()));
      if ((byName.get(parts[1]!)?.rank ?? Infinity) > rank) byName.set(parts[1]!, { rank, path });
    }
  }
  const settings = new Map<string, UnitSettings>();
  for (const [unit, main] of mains) {
    const s: UnitSettings = { path: main.path, description: null, user: null, execStart: null, unit: null, triggers: [] };
    const extra = [...(dropIns.get(unit) ?? new Map()).entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v.path);
    for (const path of [main.path, ...extra]) for (const { line } of files.get(path) ?? []) apply(s, line);
    settings.set(unit, s);
  }
  return settings;
}

function apply(s: UnitSettings, line: string): void {
  const m = /^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$/.exec(line);
  if (!m) return;
  const [, key, value] = m as unknown as [string, string, string];
  const v = cut(value.replace(/\\$/, '').trim(), 500);
  switch (key) {
    case 'Description':
      s.description = v || null;
      break;
    case 'User':
      s.user = v || null;
      break;
    case 'ExecStart':
      s.execStart = v === '' ? null : (s.execStart ?? v);
      break;
    case 'Unit':
      s.unit = v || null;
      break;
    case 'OnCalendar':
    case 'OnActiveSec':
    case 'OnBootSec':
    case 'OnStartupSec':
    case 'OnUnitActiveSec':
    case 'OnUnitInactiveSec':
      if (v === '') s.triggers = s.triggers.filter((t) => !t.startsWith(`${key}=`));
      else s.triggers.push(`${key}=${v}`);
      break;
  }
}

// Templates (`name@.service`) are patterns for instances, not services that run by themselves.
const isTemplate = (name: string) => /@\.(service|timer)$/.test(name);

/** Services from the unit list and settings. Aliases and templates are not rows. */
export function servicesOf(units: UnitFile[], settings: Map<string, UnitSettings>): HostService[] {
  return units
    .filter((u) => u.name.endsWith('.service') && u.state !== 'alias' && !isTemplate(u.name))
    .map((u) => {
      const s = settings.get(u.name);
      return {
        name: u.name,
        description: s?.description ?? null,
        startType: START_TYPE_BY_STATE[u.state] ?? ServiceStartType.Manual,
        unitFileState: u.state,
        userName: s?.user ?? null,
        binaryPathName: s?.execStart ?? null,
      };
    });
}

/** Timers that can fire, each with what it starts: the service's command and user. */
export function timersOf(units: UnitFile[], settings: Map<string, UnitSettings>): HostScheduledTask[] {
  return units
    .filter((u) => u.name.endsWith('.timer') && u.state !== 'alias' && !isTemplate(u.name) && !IDLE_TIMER_STATES.has(u.state))
    .map((u) => {
      const timer = settings.get(u.name);
      const target = settings.get(timer?.unit ?? u.name.replace(/\.timer$/, '.service'));
      return {
        name: u.name,
        source: 'systemd-timer' as const,
        taskPath: timer?.path ?? u.name,
        userName: target?.user ?? null,
        schedule: timer?.triggers.join('; ') ?? '',
        command: target?.execStart ?? '',
      };
    });
}
