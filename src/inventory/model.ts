/**
 * What a credentialed SSH scan finds on a host. Enum integers follow the vendor's enum pages
 * (`SbPAM.ActiveDirectory.Models.Enums.UserPrivilege`, `SbPAM.Models.Common.ServiceStartType`,
 * `SbPAM.Constants.SshConstants+SshTrustActionType`): the order listed there, numbered from 0 as .NET does.
 *
 * Everything here is plain data (strings, numbers, booleans, arrays): it is stored as rows and crosses a
 * worker thread by structured clone.
 */

export enum UserPrivilege {
  NotSet = 0,
  Administrator = 1,
  PowerUser = 2,
  Guest = 3,
  User = 4,
  SuperUser = 5,
  LinuxUser = 6,
  CiscoPrivilege_0 = 7,
  CiscoPrivilege_1 = 8,
  CiscoPrivilege_2 = 9,
  CiscoPrivilege_3 = 10,
  CiscoPrivilege_4 = 11,
  CiscoPrivilege_5 = 12,
  CiscoPrivilege_6 = 13,
  CiscoPrivilege_7 = 14,
  CiscoPrivilege_8 = 15,
  CiscoPrivilege_9 = 16,
  CiscoPrivilege_10 = 17,
  CiscoPrivilege_11 = 18,
  CiscoPrivilege_12 = 19,
  CiscoPrivilege_13 = 20,
  CiscoPrivilege_14 = 21,
  CiscoPrivilege_15 = 22,
  DomainAdmin = 23,
  EnterpriseAdmin = 24,
}

export enum ServiceStartType {
  Boot = 0,
  System = 1,
  Automatic = 2,
  Manual = 3,
  Disabled = 4,
}

export enum SshTrustAction {
  AlwaysTrustIgnoreThumbprint = 0,
  WarnOnThumbprintMismatch = 1,
  ErrorOnThumbprintMismatch = 2,
}

/** A local account from /etc/passwd, judged against /etc/group, /etc/shadow and sudoers. */
export interface HostUser {
  name: string;
  unixId: number;
  /** The primary group's id. */
  unixGroupId: number;
  /** The GECOS field as written (often the person's full name). */
  displayName: string;
  homeDirectory: string;
  shell: string;
  isDisabled: boolean;
  /** Why the account is disabled, in words; empty when it is not. */
  disabledReasons: string[];
  privilege: UserPrivilege;
  /** Why the privilege was given, in words (e.g. `uid 0`, `member of sudo`, `sudoers: %admins ALL`). */
  privilegeReasons: string[];
}

/** A local group from /etc/group. */
export interface HostGroup {
  name: string;
  unixId: number;
  /** User names: the listed members and the users whose primary group this is, sorted, without repeats. */
  members: string[];
}

/** A systemd service unit. */
export interface HostService {
  /** The unit name, e.g. `ssh.service`. */
  name: string;
  /** `Description=` of the unit, or null when it has none. */
  description: string | null;
  startType: ServiceStartType;
  /** The systemd unit-file state it was derived from (`enabled`, `static`, `masked`…). */
  unitFileState: string;
  /** `User=` of the unit; null when the unit names none (systemd then runs it as root). */
  userName: string | null;
  /** The first `ExecStart=` line, or null. */
  binaryPathName: string | null;
}

export type ScheduledTaskSource = 'crontab' | 'cron.d' | 'user-crontab' | 'systemd-timer';

/** One cron line or one systemd timer. */
export interface HostScheduledTask {
  /** A cron entry's command (cut to 200 characters) or a timer's unit name. */
  name: string;
  source: ScheduledTaskSource;
  /** The file it came from. */
  taskPath: string;
  /** Who it runs as: the crontab's user field or owner, the timer's service `User=`; null when unknown (root for timers). */
  userName: string | null;
  /** Cron's five fields or `@keyword`; a timer's `OnCalendar=`/`On…Sec=` settings joined by `; `. */
  schedule: string;
  /** The command line (cron) or the activated service's `ExecStart=` (timers). */
  command: string;
}

/** What one credentialed scan read from a host. `notes` is empty exactly when every part was read and parsed. */
export interface InventorySnapshot {
  os: string | null;
  version: string | null;
  hostName: string | null;
  dnsHostName: string | null;
  users: HostUser[];
  groups: HostGroup[];
  services: HostService[];
  scheduledTasks: HostScheduledTask[];
  /** Each part that could not be read or parsed, or was cut at a limit, in words a person can act on. */
  notes: string[];
}
