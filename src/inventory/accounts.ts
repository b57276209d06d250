import { UserPrivilege, type HostGroup, type HostUser } from './model';
import type { GroupEntry } from './parse/group';
import type { PasswdEntry } from './parse/passwd';
import type { ShadowStatus } from './parse/shadow';
import type { SudoGrant, SudoSubject } from './parse/sudoers';

/** Groups whose members may use sudo (Debian/Ubuntu `sudo`, RHEL `wheel`, older Ubuntu `admin`). */
export const ADMIN_GROUPS: readonly string[] = ['sudo', 'wheel', 'admin'];

export interface AccountSources {
  passwd: PasswdEntry[];
  groups: GroupEntry[];
  /** Null when /etc/shadow could not be read: no account is then judged disabled by its password. */
  shadow: ShadowStatus[] | null;
  /** Null when sudoers could not be read: only group membership then makes an Administrator. */
  sudo: SudoGrant[] | null;
  /** Today as days since 1970-01-01 (UTC), for account expiry. */
  today: number;
}

/**
 * Users and groups with privilege and disabled state. SuperUser: uid 0. Administrator: a member (primary
 * or listed) of an admin group, or named by a sudoers rule that grants ALL as root. LinuxUser otherwise.
 * Disabled: a shell ending in `/nologin` or `/false`, a locked or `*` password, or an expired account.
 * Every judgement carries its reason in words.
 */
export function judgeAccounts(src: AccountSources): { users: HostUser[]; groups: HostGroup[] } {
  const groupByGid = new Map<number, GroupEntry>();
  for (const g of src.groups) if (!groupByGid.has(g.gid)) groupByGid.set(g.gid, g);
  const listedIn = new Map<string, GroupEntry[]>();
  for (const g of src.groups) {
    for (const m of g.members) {
      let list = listedIn.get(m);
      if (!list) listedIn.set(m, (list = []));
      list.push(g);
    }
  }
  const shadow = new Map(src.shadow?.map((s) => [s.name, s]));

  const users = src.passwd.map((p): HostUser => {
    const primary = groupByGid.get(p.gid);
    const member = { names: new Set<string>(), gids: new Set<number>([p.gid]) };
    if (primary) member.names.add(primary.name);
    for (const g of listedIn.get(p.name) ?? []) {
      member.names.add(g.name);
      member.gids.add(g.gid);
    }
    const privilegeReasons: string[] = [];
    if (p.uid === 0) privilegeReasons.push('uid 0');
    for (const g of ADMIN_GROUPS) {
      if (primary?.name === g) privilegeReasons.push(`primary group ${g}`);
      else if (member.names.has(g)) privilegeReasons.push(`member of ${g}`);
    }
    for (const grant of src.sudo ?? []) {
      if (matchList(grant.subjects, p, member)) privilegeReasons.push(`sudoers ${grant.file}: ${grant.rule}`);
    }
    const privilege = p.uid === 0 ? UserPrivilege.SuperUser : privilegeReasons.length ? UserPrivilege.Administrator : UserPrivilege.LinuxUser;
    const disabledReasons = disabledReasonsOf(p, shadow.get(p.name), src.today);
    return {
      name: p.name,
      unixId: p.uid,
      unixGroupId: p.gid,
      displayName: p.gecos,
      homeDirectory: p.home,
      shell: p.shell,
      isDisabled: disabledReasons.length > 0,
      disabledReasons,
      privilege,
      privilegeReasons,
    };
  });

  const primaryOf = new Map<number, string[]>();
  for (const p of src.passwd) {
    let list = primaryOf.get(p.gid);
    if (!list) primaryOf.set(p.gid, (list = []));
    list.push(p.name);
  }
  const groups = src.groups.map((g): HostGroup => {
    const primaryMembers = groupByGid.get(g.gid) === g ? (primaryOf.get(g.gid) ?? []) : [];
    return { name: g.name, unixId: g.gid, members: [...new Set([...g.members, ...primaryMembers])].sort() };
  });
  return { users, groups };
}

function disabledReasonsOf(p: PasswdEntry, s: ShadowStatus | undefined, today: number): string[] {
  const reasons: string[] = [];
  if (/(^|\/)(nologin|false)$/.test(p.shell)) reasons.push(`shell ${p.shell}`);
  if (s?.passwordLock) reasons.push(s.passwordLock);
  if (s?.expiresOnDay != null && s.expiresOnDay <= today) {
    reasons.push(`account expired on ${new Date(s.expiresOnDay * 86_400_000).toISOString().slice(0, 10)}`);
  }
  return reasons;
}

interface Membership {
  names: Set<string>;
  gids: Set<number>;
}

/** sudoers(5) list matching: the last item that matches decides, a negated one against. */
function matchList(items: SudoSubject[], p: PasswdEntry, member: Membership): boolean {
  let result = false;
  for (const item of items) if (matches(item, p, member)) result = !item.negated;
  return result;
}

function matches(s: SudoSubject, p: PasswdEntry, member: Membership): boolean {
  switch (s.kind) {
    case 'all':
      return true;
    case 'user':
      return s.name === p.name;
    case 'uid':
      return s.id === p.uid;
    case 'group':
      return member.names.has(s.name);
    case 'gid':
      return member.gids.has(s.id);
    case 'alias':
      return matchList(s.items, p, member);
    case 'unresolved':
      return false;
  }
}
