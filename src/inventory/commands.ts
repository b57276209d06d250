/**
 * The fixed, read-only commands a credentialed scan runs, one exec channel each. Nothing from a host, a
 * caller or the database is ever put into a command line: `FixedCommand` values can only be written as
 * template literals without substitutions (`fixed\`…\``), and the session runs nothing else.
 *
 * Each script runs under `sh -c '…'` so that a login shell of another family (csh, fish) still runs it
 * the same way, with `LC_ALL=C` so that messages are in English and bytes pass through unchanged.
 * Several files come back as `grep -r -H -Z -a` records (`path NUL line`): grep writes the path, so a
 * file's content cannot forge which file a line belongs to, as markers inside one output could.
 */

declare const fixedBrand: unique symbol;
/** A command line written out in this module's source. */
export type FixedCommand = string & { readonly [fixedBrand]: true };

/** Tags a template literal as a fixed command; a `${…}` substitution is a type error (never[]). */
function fixed(strings: TemplateStringsArray, ...noValues: never[]): FixedCommand {
  if (noValues.length || strings.length !== 1) throw new Error('a fixed command takes no substitutions');
  return strings.raw[0] as FixedCommand;
}

export type PartName =
  | 'osRelease' | 'hostName' | 'dnsHostName' | 'passwd' | 'group' | 'shadow' | 'sudoers'
  | 'systemCrontabs' | 'userCrontabs' | 'unitFiles' | 'unitSettings';

export interface Part {
  command: FixedCommand;
  /** What was read, for notes: "`/etc/shadow` could not be read". */
  what: string;
  /** Exit statuses that mean success (grep exits 1 when it printed nothing). */
  okExits: readonly number[];
  /** Exit statuses after which the output is still good for the files that were read (grep's 2). */
  partialExits: readonly number[];
  /** What the snapshot lacks when this part fails, for the note; null: a failure is normal and not noted. */
  lost: string | null;
}

// Only existing paths are passed to grep, so a missing /etc/sudoers (sudo not installed) is no error,
// while an unreadable one is.
export const PARTS: Readonly<Record<PartName, Part>> = {
  osRelease: {
    command: fixed`sh -c 'cat /etc/os-release 2>/dev/null || exec cat /usr/lib/os-release'`,
    what: 'os-release',
    okExits: [0],
    partialExits: [],
    lost: 'the OS name and version are not known',
  },
  hostName: { command: fixed`uname -n`, what: 'the host name (uname -n)', okExits: [0], partialExits: [], lost: 'the host name is not known' },
  // Fails on hosts without a DNS name; that is no error, so it has no note.
  dnsHostName: { command: fixed`hostname -f`, what: 'the DNS host name (hostname -f)', okExits: [0], partialExits: [], lost: null },
  passwd: { command: fixed`cat /etc/passwd`, what: '/etc/passwd', okExits: [0], partialExits: [], lost: 'no users were listed' },
  group: { command: fixed`cat /etc/group`, what: '/etc/group', okExits: [0], partialExits: [], lost: 'no groups were listed and group membership is unknown' },
  // The password field leaves the host cut to its first character (`!`, `*`, `$`…) and the account's
  // expiry; the hash itself is never sent. Lines the expressions do not match are not printed at all.
  shadow: {
    command: fixed`sh -c 'export LC_ALL=C; exec sed -n -E -e "s/^([^:]*):([^:]?)[^:]*(:[^:]*){5}:([^:]*).*$/\1:\2::::::\4:/p" -e t -e "s/^([^:]*):([^:]?).*$/\1:\2:/p" /etc/shadow'`,
    what: '/etc/shadow',
    okExits: [0],
    partialExits: [],
    lost: 'locked passwords and expired accounts are not detected',
  },
  sudoers: {
    command: fixed`sh -c 'export LC_ALL=C; for p in /etc/sudoers /etc/sudoers.d; do [ -e "$p" ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || exec grep -r -H -Z -a -e "" -- "$@"'`,
    what: 'sudoers (/etc/sudoers, /etc/sudoers.d)',
    okExits: [0, 1],
    partialExits: [2],
    lost: 'administrators granted by sudo rules are not known',
  },
  systemCrontabs: {
    command: fixed`sh -c 'export LC_ALL=C; for p in /etc/crontab /etc/cron.d; do [ -e "$p" ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || exec grep -r -H -Z -a -e "" -- "$@"'`,
    what: 'system crontabs (/etc/crontab, /etc/cron.d)',
    okExits: [0, 1],
    partialExits: [2],
    lost: 'system cron jobs are not listed',
  },
  userCrontabs: {
    command: fixed`sh -c 'export LC_ALL=C; [ -e /var/spool/cron ] || exit 0; exec grep -r -H -Z -a --exclude-dir=atjobs --exclude-dir=atspool -e "" -- /var/spool/cron'`,
    what: 'user crontabs (/var/spool/cron)',
    okExits: [0, 1],
    partialExits: [2],
    lost: 'user cron jobs are not listed',
  },
  unitFiles: {
    command: fixed`systemctl list-unit-files --type=service,timer --no-pager --no-legend`,
    what: 'systemd unit files (systemctl list-unit-files)',
    okExits: [0],
    partialExits: [],
    lost: 'services and timers are not listed',
  },
  unitSettings: {
    command: fixed`sh -c 'export LC_ALL=C; for p in /etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /usr/lib/systemd/system /lib/systemd/system; do [ -d "$p" ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || exec grep -r -H -Z -a -E "--include=*.service" "--include=*.timer" "--include=*.conf" -e "^[[:space:]]*(Description|User|ExecStart|Unit|OnCalendar|OnActiveSec|OnBootSec|OnStartupSec|OnUnitActiveSec|OnUnitInactiveSec)[[:space:]]*=" -- "$@"'`,
    what: 'systemd unit files (/etc/systemd/system, /usr/lib/systemd/system…)',
    okExits: [0, 1],
    partialExits: [2],
    lost: 'service descriptions, users and commands are not known',
  },
};
