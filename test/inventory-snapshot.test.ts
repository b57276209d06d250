import { describe, expect, it } from 'vitest';
import { judgeAccounts } from '../src/inventory/accounts';
import { DEFAULT_COLLECT_LIMITS, partResultOf } from '../src/inventory/collect';
import { PARTS, type PartName } from '../src/inventory/commands';
import { UserPrivilege } from '../src/inventory/model';
import { parseGroup } from '../src/inventory/parse/group';
import { parsePasswd } from '../src/inventory/parse/passwd';
import { parseShadow } from '../src/inventory/parse/shadow';
import { parseSudoers } from '../src/inventory/parse/sudoers';
import { fileLines } from '../src/inventory/parse/text';
import { buildSnapshot, type PartResult } from '../src/inventory/snapshot';
import type { ExecResult } from '../src/inventory/ssh-exec';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'toor:x:0:0:second root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'alice:x:1001:1001:Alice:/home/alice:/bin/bash',
  'bob:x:1002:10:Bob:/home/bob:/bin/bash',
  'dave:x:1003:1003::/home/dave:/bin/bash',
  'frank:x:1004:1004::/home/frank:/bin/bash',
  'heidi:x:1005:1005::/home/heidi:/bin/bash',
  'ivan:x:1006:1006::/home/ivan:/bin/false',
  'judy:x:1007:1007::/home/judy:/bin/bash',
  'kim:x:1008:1008::/home/kim:/bin/bash',
  'carol:x:1009:1009::/home/carol:/bin/bash',
  'oscar:x:1010:1101::/home/oscar:/bin/bash',
].join('\n');
const GROUP = 'root:x:0:\ndaemon:x:1:\nwheel:x:10:\nsudo:x:27:alice\nadmins:x:1100:heidi\nops:x:1101:\nalice:x:1001:\n';
const SHADOW = 'root:*::::::\njudy:!$6$x$y:19000:0:99999:7:::\nkim:$::::::100:\nalice:$6$a$b:19000:0:99999:7:::\n';
const SUDOERS = '%admins ALL=(ALL) ALL\nfrank ALL=(ALL) NOPASSWD: ALL\nUser_Alias OPS = dave, %ops\nOPS ALL=(root) ALL\ncarol ALL=(postgres) ALL\n';
const sudoGrants = parseSudoers(fileLines(SUDOERS.split('\n').map((l) => `/etc/sudoers\0${l}\n`).join(''), 's', { maxLines: 99, maxLineLength: 999 }).value).value;

describe('judgeAccounts', () => {
  const { users, groups } = judgeAccounts({
    passwd: parsePasswd(PASSWD).value,
    groups: parseGroup(GROUP).value,
    shadow: parseShadow(SHADOW).value,
    sudo: sudoGrants,
    today: 20_000,
  });
  const byName = new Map(users.map((u) => [u.name, u]));

  it.each<[string, UserPrivilege, string[]]>([
    ['root', UserPrivilege.SuperUser, ['uid 0']],
    ['toor', UserPrivilege.SuperUser, ['uid 0']],
    ['alice', UserPrivilege.Administrator, ['member of sudo']],
    ['bob', UserPrivilege.Administrator, ['primary group wheel']],
    ['heidi', UserPrivilege.Administrator, ['sudoers /etc/sudoers: %admins ALL=(ALL) ALL']],
    ['frank', UserPrivilege.Administrator, ['sudoers /etc/sudoers: frank ALL=(ALL) NOPASSWD: ALL']],
    ['dave', UserPrivilege.Administrator, ['sudoers /etc/sudoers: OPS ALL=(root) ALL']],
    ['oscar', UserPrivilege.Administrator, ['sudoers /etc/sudoers: OPS ALL=(root) ALL']],
    ['carol', UserPrivilege.LinuxUser, []],
    ['daemon', UserPrivilege.LinuxUser, []],
  ])('%s', (name, privilege, reasons) => {
    expect(byName.get(name)).toMatchObject({ privilege, privilegeReasons: reasons });
  });

  it.each<[string, string[]]>([
    ['daemon', ['shell /usr/sbin/nologin']],
    ['ivan', ['shell /bin/false']],
    ['judy', ['password locked (/etc/shadow password starts with !)']],
    ['root', ['no password login (/etc/shadow password is *)']],
    ['kim', ['account expired on 1970-04-11']],
    ['alice', []],
  ])('%s disabled: %j', (name, reasons) => {
    expect(byName.get(name)).toMatchObject({ isDisabled: reasons.length > 0, disabledReasons: reasons });
  });

  it('lists members of a group including users whose primary group it is', () => {
    expect(groups.find((g) => g.name === 'wheel')?.members).toEqual(['bob']);
    expect(groups.find((g) => g.name === 'alice')?.members).toEqual(['alice']);
    expect(groups.find((g) => g.name === 'root')?.members).toEqual(['root', 'toor']);
  });

  it('judges no account by shadow or sudoers when they could not be read', () => {
    const r = judgeAccounts({ passwd: parsePasswd(PASSWD).value, groups: parseGroup(GROUP).value, shadow: null, sudo: null, today: 20_000 });
    const judy = r.users.find((u) => u.name === 'judy')!;
    expect(judy.isDisabled).toBe(false);
    expect(r.users.find((u) => u.name === 'frank')!.privilege).toBe(UserPrivilege.LinuxUser);
    expect(r.users.find((u) => u.name === 'alice')!.privilege).toBe(UserPrivilege.Administrator);
  });
});

describe('buildSnapshot', () => {
  const ok = (text: string): PartResult => ({ ok: true, text, cutAtBytes: null });
  const base: Record<PartName, PartResult> = {
    osRelease: ok('NAME="Debian GNU/Linux"\nVERSION_ID="12"\n'),
    hostName: ok('web1\n'),
    dnsHostName: ok('web1.example.test\n'),
    passwd: ok(PASSWD),
    group: ok(GROUP),
    shadow: ok(SHADOW),
    sudoers: ok(SUDOERS.split('\n').map((l) => `/etc/sudoers\0${l}\n`).join('')),
    systemCrontabs: ok('/etc/crontab\x0017 * * * * root run-parts /etc/cron.hourly\n'),
    userCrontabs: ok(''),
    unitFiles: ok('ssh.service enabled enabled\n'),
    unitSettings: ok('/lib/systemd/system/ssh.service\0Description=OpenBSD Secure Shell server\n'),
  };

  it('fills every part and has no notes when every part was read', () => {
    const s = buildSnapshot(base, 20_000);
    expect(s).toMatchObject({ os: 'Debian GNU/Linux', version: '12', hostName: 'web1', dnsHostName: 'web1.example.test', notes: [] });
    expect(s.users).toHaveLength(13);
    expect(s.services).toEqual([expect.objectContaining({ name: 'ssh.service', description: 'OpenBSD Secure Shell server' })]);
    expect(s.scheduledTasks).toEqual([expect.objectContaining({ source: 'crontab', userName: 'root' })]);
  });

  it('turns each failed part into a note and keeps the rest', () => {
    const s = buildSnapshot({
      ...base,
      shadow: { ok: false, problem: 'exit status 2: sed: can\'t read /etc/shadow: Permission denied' },
      sudoers: { ok: false, problem: 'exit status 2: grep: /etc/sudoers: Permission denied' },
      dnsHostName: { ok: false, problem: 'exit status 1' },
    }, 20_000);
    expect(s.notes).toEqual([
      `${PARTS.shadow.what} could not be read (exit status 2: sed: can't read /etc/shadow: Permission denied); locked passwords and expired accounts are not detected`,
      `${PARTS.sudoers.what} could not be read (exit status 2: grep: /etc/sudoers: Permission denied); administrators granted by sudo rules are not known`,
    ]);
    expect(s.dnsHostName).toBeNull();
    expect(s.users.find((u) => u.name === 'judy')!.isDisabled).toBe(false);
    expect(s.users.find((u) => u.name === 'alice')!.privilege).toBe(UserPrivilege.Administrator);
  });

  it('notes a part cut at its byte limit', () => {
    const s = buildSnapshot({ ...base, passwd: { ok: true, text: PASSWD, cutAtBytes: 4096 } }, 20_000);
    expect(s.notes).toEqual(['/etc/passwd: only the first 4096 bytes were read; the rest was left out']);
  });

  it('takes a DNS name only when it has a dot', () => {
    expect(buildSnapshot({ ...base, dnsHostName: ok('web1\n') }, 20_000).dnsHostName).toBeNull();
  });
});

describe('partResultOf', () => {
  const l = { ...DEFAULT_COLLECT_LIMITS, maxBytesPerPart: 16, commandTimeoutMs: 1000, totalTimeoutMs: 5000 };
  const exec = (over: Partial<ExecResult>): ExecResult => ({
    exitCode: 0, exitSignal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), stdoutCut: false, timedOut: false, failure: null, ...over,
  });
  it.each<[string, keyof typeof PARTS, Partial<ExecResult>, boolean, PartResult]>([
    ['output', 'passwd', { stdout: Buffer.from('a\nb\n') }, false, { ok: true, text: 'a\nb\n', cutAtBytes: null }],
    ['cut output ends at its last whole line', 'passwd', { stdout: Buffer.from('line1\nline2\nlin'), stdoutCut: true }, false, { ok: true, text: 'line1\nline2\n', cutAtBytes: 16 }],
    ["grep's 1 is success", 'sudoers', { exitCode: 1 }, false, { ok: true, text: '', cutAtBytes: null }],
    ["grep's 2 with output is partly read", 'sudoers', { exitCode: 2, stdout: Buffer.from('/etc/sudoers.d/a\0x\n'), stderr: Buffer.from('grep: /etc/sudoers: Permission denied\n') }, false,
      { ok: true, text: '/etc/sudoers.d/a\0x\n', cutAtBytes: null, partly: 'grep: /etc/sudoers: Permission denied' }],
    ["grep's 2 without output failed", 'sudoers', { exitCode: 2, stderr: Buffer.from('grep: a: Permission denied\ngrep: b: Permission denied\n') }, false,
      { ok: false, problem: 'exit status 2: grep: a: Permission denied, and 1 more' }],
    ['a missing command', 'unitFiles', { exitCode: 127, stderr: Buffer.from('sh: 1: systemctl: not found\n') }, false, { ok: false, problem: 'command not found: sh: 1: systemctl: not found' }],
    ['a signal', 'passwd', { exitCode: null, exitSignal: 'KILL' }, false, { ok: false, problem: 'ended by signal KILL' }],
    ['a timeout', 'passwd', { exitCode: null, timedOut: true }, false, { ok: false, problem: 'no result within 1000 ms' }],
    ['the deadline', 'passwd', { exitCode: null, failure: 'the session was closed' }, true, { ok: false, problem: "not read: the collection's time limit of 5000 ms passed" }],
    ['a lost connection', 'passwd', { exitCode: null, failure: 'the connection closed' }, false, { ok: false, problem: 'the connection closed' }],
    ['escape sequences in stderr', 'passwd', { exitCode: 1, stderr: Buffer.from('\u001b[2Jcat: x\n') }, false, { ok: false, problem: 'exit status 1: \uFFFD[2Jcat: x' }],
  ])('%s', (_, part, over, deadlinePassed, expected) => {
    expect(partResultOf(PARTS[part], exec(over), l, deadlinePassed)).toEqual(expected);
  });

  it('notes a partly read part', () => {
    const s = buildSnapshot({ ...Object.fromEntries(Object.keys(PARTS).map((k) => [k, { ok: true, text: '', cutAtBytes: null }])) as Record<PartName, PartResult>,
      sudoers: { ok: true, text: '', cutAtBytes: null, partly: 'grep: /etc/sudoers: Permission denied' } }, 20_000);
    expect(s.notes).toEqual([`${PARTS.sudoers.what} was only partly read (grep: /etc/sudoers: Permission denied); administrators granted by sudo rules are not known`]);
  });
});
