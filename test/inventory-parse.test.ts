import { describe, expect, it } from 'vitest';
import { ServiceStartType } from '../src/inventory/model';
import { parseCrontabs } from '../src/inventory/parse/crontab';
import { parseGroup } from '../src/inventory/parse/group';
import { parseOsRelease } from '../src/inventory/parse/os-release';
import { parsePasswd } from '../src/inventory/parse/passwd';
import { parseShadow } from '../src/inventory/parse/shadow';
import { parseSudoers } from '../src/inventory/parse/sudoers';
import { parseUnitFiles, parseUnitSettings, servicesOf, timersOf } from '../src/inventory/parse/systemd';
import { decodeUtf8, fileLines, splitLines, textLines } from '../src/inventory/parse/text';

/** `grep -H -Z` records of the given files. */
const grepOf = (files: Record<string, string>) =>
  Object.entries(files)
    .flatMap(([path, text]) => text.split('\n').map((line) => `${path}\0${line}\n`))
    .join('');
const fileRecords = (files: Record<string, string>) => fileLines(grepOf(files), 'test', { maxLines: 1000, maxLineLength: 1000 }).value;

describe('bounded text', () => {
  it('cuts at the line limit and drops overlong lines, saying so', () => {
    const r = textLines(['a', 'x'.repeat(50), 'b', 'c', 'd'].join('\n'), '/etc/x', { maxLines: 3, maxLineLength: 10 });
    expect(r.value).toEqual(['a', 'b', 'c']);
    expect(r.problems).toEqual([
      '/etc/x: only the first 3 lines were read; 1 more were left out',
      '/etc/x: 1 line longer than 10 characters were skipped',
    ]);
  });

  it('turns invalid UTF-8, NUL and terminal escapes into U+FFFD', () => {
    const text = decodeUtf8(Buffer.from([0x61, 0xff, 0xfe, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x62]));
    const [line] = textLines(text, 'x', { maxLines: 5, maxLineLength: 100 }).value;
    expect(line).toBe('a\uFFFD\uFFFD\uFFFD\uFFFD[31mb');
    expect(line).not.toMatch(/[\u0000-\u0008\u000a-\u001f]/);
  });

  it('keeps grep records apart by the NUL grep writes; content cannot move a line to another file', () => {
    const lines = fileLines('/etc/a\0x\0/etc/b\0forged\n/etc/b\0real\nno frame\n', 'test', { maxLines: 10, maxLineLength: 100 });
    expect(lines.value).toEqual([
      { path: '/etc/a', line: 'x\uFFFD/etc/b\uFFFDforged' },
      { path: '/etc/b', line: 'real' },
    ]);
    expect(lines.problems).toEqual(['test: 1 output line without a file name were ignored']);
  });

  it('splits CRLF lines', () => {
    expect(splitLines('a\r\nb\r\n', { maxLines: 10, maxLineLength: 10 }).lines).toEqual(['a', 'b']);
  });
});

describe('parseOsRelease', () => {
  it.each([
    ['NAME="Debian GNU/Linux"\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"', { os: 'Debian GNU/Linux', version: '12' }],
    ["NAME='Rocky Linux'\nVERSION_ID=9.4\n", { os: 'Rocky Linux', version: '9.4' }],
    ['PRETTY_NAME="Arch Linux"\nID=arch\n', { os: 'Arch Linux', version: null }],
    ['NAME=Fancy\nVERSION="1.0 (Beta)"\n', { os: 'Fancy', version: '1.0 (Beta)' }],
    ['NAME="Say \\"hi\\""\n# comment\nVERSION_ID=""\nVERSION=2', { os: 'Say "hi"', version: '2' }],
    ['', { os: null, version: null }],
  ])('%j', (text, expected) => {
    expect(parseOsRelease(text).value).toEqual(expected);
  });

  it('notes text that is not os-release', () => {
    expect(parseOsRelease('\u0000\u0001garbage').problems).toEqual(['os-release: no NAME or PRETTY_NAME in it']);
  });
});

describe('parsePasswd', () => {
  it('reads records and skips what is not one', () => {
    const r = parsePasswd([
      'root:x:0:0:root:/root:/bin/bash',
      'alice:x:1001:1001:Alice Liddell,,,:/home/alice:/bin/zsh',
      'broken:x:12',
      'neg:x:-1:0::/:/bin/sh',
      'huge:x:99999999999:0::/:/bin/sh',
      '+nisuser::::::',
      '',
      'alice:x:1002:1002::/home/alice2:/bin/sh',
    ].join('\n'));
    expect(r.value).toEqual([
      { name: 'root', uid: 0, gid: 0, gecos: 'root', home: '/root', shell: '/bin/bash' },
      { name: 'alice', uid: 1001, gid: 1001, gecos: 'Alice Liddell,,,', home: '/home/alice', shell: '/bin/zsh' },
    ]);
    expect(r.problems).toEqual([
      '/etc/passwd: 3 lines not in the passwd format were skipped',
      '/etc/passwd: 1 repeated user name; the first record of each was kept',
    ]);
  });
});

describe('parseGroup', () => {
  it('reads members without blanks or repeats', () => {
    const r = parseGroup('sudo:x:27:alice, bob,,alice\nwheel:x:10:\nbad:x:zz:\n');
    expect(r.value).toEqual([
      { name: 'sudo', gid: 27, members: ['alice', 'bob'] },
      { name: 'wheel', gid: 10, members: [] },
    ]);
    expect(r.problems).toEqual(['/etc/group: 1 line not in the group format were skipped']);
  });
});

describe('parseShadow', () => {
  const HASH = '$6$saltsalt$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  it.each([
    [`alice:${HASH}:19000:0:99999:7:::`, null, null],
    ['judy:!$6$abc:19000:0:99999:7:::', 'password locked (/etc/shadow password starts with !)', null],
    ['rhel:!!:19000::::::', 'password locked (/etc/shadow password starts with !)', null],
    ['daemon:*:19000:0:99999:7:::', 'no password login (/etc/shadow password is *)', null],
    ['empty::19000:0:99999:7:::', null, null],
    ['kim:$::::::19500:', null, 19500],
    ['short:!:', 'password locked (/etc/shadow password starts with !)', null],
  ])('%s', (line, lock, expiry) => {
    const r = parseShadow(line);
    expect(r.value).toEqual([{ name: line.split(':')[0], passwordLock: lock, expiresOnDay: expiry }]);
  });

  it('never returns any part of a password hash', () => {
    const r = parseShadow(`alice:${HASH}:19000:0:99999:7:::\nbob:!${HASH}:1:::::\n`);
    expect(JSON.stringify(r)).not.toContain('saltsalt');
    expect(JSON.stringify(r)).not.toContain('$6$');
  });
});

describe('parseSudoers', () => {
  const subjectsOf = (files: Record<string, string>) =>
    parseSudoers(fileRecords(files)).value.map((g) => ({ file: g.file, subjects: g.subjects }));
  const user = (name: string, negated = false) => ({ negated, kind: 'user', name });
  const group = (name: string, negated = false) => ({ negated, kind: 'group', name });

  it.each<[string, string, unknown[]]>([
    ['a user rule', 'frank ALL=(ALL) NOPASSWD: ALL', [user('frank')]],
    ['a group rule', '%admins ALL=(ALL) ALL', [group('admins')]],
    ['runas ALL:ALL', 'root ALL=(ALL:ALL) ALL', [user('root')]],
    ['no runas list (root)', 'grace ALL = ALL', [user('grace')]],
    ['runas root', 'heidi host1,host2 = (root) ALL', [user('heidi')]],
    ['runas #0', 'ivan ALL = (#0) ALL', [user('ivan')]],
    ['uid and gid forms', '#1007, %#1100 ALL=(ALL) ALL', [{ negated: false, kind: 'uid', id: 1007 }, { negated: false, kind: 'gid', id: 1100 }]],
    ['ALL users', 'ALL ALL=(ALL) ALL', [{ negated: false, kind: 'all' }]],
    ['negated user in the list', 'ALL, !bob ALL=(ALL) ALL', [{ negated: false, kind: 'all' }, user('bob', true)]],
    ['continuation lines', 'grace ALL = (root) \\\n    NOPASSWD: \\\n    ALL', [user('grace')]],
    ['ALL after a specific command', 'ops ALL = (root) /usr/bin/ls, ALL', [user('ops')]],
    ['a second host spec', 'ops web = (root) /bin/ls : db = ALL', [user('ops')]],
    ['a digest and options', 'ops ALL = (root) CWD=/tmp NOPASSWD: sha256:abcd /bin/ls, ALL', [user('ops')]],
    ['a quoted name with a space', '"%domain users" ALL=(ALL) ALL', [group('domain users')]],
    ['an escaped comma in a command does not end it', 'ops ALL = (root) /bin/echo a\\,ALL', []],
    ['runas another user only', 'carol ALL=(postgres) ALL', []],
    ['runas group only', 'carol ALL=(:adm) ALL', []],
    ['a specific command', 'erin ALL=(ALL) /usr/bin/systemctl restart nginx', []],
    ['a negated ALL', 'erin ALL=(ALL) !ALL', []],
    ['a comment', '# frank ALL=(ALL) ALL', []],
    ['a trailing comment', 'frank ALL=(ALL) ALL # who else', [user('frank')]],
    ['Defaults', 'Defaults:%admins !lecture\nDefaults env_reset', []],
  ])('%s', (_, text, subjects) => {
    const got = subjectsOf({ '/etc/sudoers': text });
    expect(got.flatMap((g) => g.subjects)).toEqual(subjects);
  });

  it('expands user, runas and command aliases', () => {
    const text = [
      'User_Alias OPERATORS = dave, %ops : AUDITORS = ALL, !OPERATORS',
      'Runas_Alias ROOTS = root',
      'Cmnd_Alias EVERYTHING = ALL, SHUTDOWN = /sbin/shutdown -h now, /sbin/reboot',
      'OPERATORS ALL = (ROOTS) NOPASSWD: EVERYTHING',
      'AUDITORS ALL = (ROOTS) SHUTDOWN',
    ].join('\n');
    expect(subjectsOf({ '/etc/sudoers': text })).toEqual([
      { file: '/etc/sudoers', subjects: [{ negated: false, kind: 'alias', name: 'OPERATORS', items: [user('dave'), group('ops')] }] },
    ]);
  });

  it('reads /etc/sudoers.d as sudo does when /etc/sudoers includes it', () => {
    const files = {
      '/etc/sudoers': '@includedir /etc/sudoers.d\n#include /etc/sudoers.local\n',
      '/etc/sudoers.d/admins': '%admins ALL=(ALL) ALL',
      '/etc/sudoers.d/mallory.bak': 'mallory ALL=(ALL) ALL',
      '/etc/sudoers.d/old~': 'mallory ALL=(ALL) ALL',
      '/etc/sudoers.d/sub/deeper': 'mallory ALL=(ALL) ALL',
    };
    const r = parseSudoers(fileRecords(files));
    expect(r.value.map((g) => g.file)).toEqual(['/etc/sudoers.d/admins']);
    expect(r.problems).toEqual(['sudoers: /etc/sudoers includes /etc/sudoers.local, which was not read']);
  });

  it('ignores /etc/sudoers.d when /etc/sudoers does not include it, and reads it when /etc/sudoers is missing', () => {
    const dropIn = { '/etc/sudoers.d/admins': '%admins ALL=(ALL) ALL' };
    const without = parseSudoers(fileRecords({ '/etc/sudoers': 'root ALL=(ALL) ALL', ...dropIn }));
    expect(without.value.map((g) => g.file)).toEqual(['/etc/sudoers']);
    expect(without.problems).toEqual(['sudoers: /etc/sudoers.d/admins is ignored because /etc/sudoers does not include /etc/sudoers.d']);
    expect(parseSudoers(fileRecords(dropIn)).value.map((g) => g.file)).toEqual(['/etc/sudoers.d/admins']);
  });

  it('says what it does not resolve or parse', () => {
    const r = parseSudoers(fileRecords({ '/etc/sudoers': '+admins, %:domain ALL=(ALL) ALL\nthis is = ( not sudoers\n' }));
    expect(r.problems).toEqual([
      'sudoers: 1 rule could not be parsed and were not evaluated',
      'sudoers: netgroup (+name) and non-Unix group (%:name) entries are not resolved',
    ]);
  });

  it('stays bounded when aliases name each other widely and in cycles', () => {
    const wide = Array.from({ length: 200 }, () => 'B').join(', ');
    const text = `User_Alias A = ${wide}\nUser_Alias B = ${Array.from({ length: 200 }, () => 'A').join(', ')}, x\nA ALL=(ALL) ALL`;
    const started = performance.now();
    const r = parseSudoers(fileRecords({ '/etc/sudoers': text }));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(r.problems).toContain('sudoers: user aliases nest too deeply or widely; only part of them was expanded');
  });
});

describe('parseCrontabs', () => {
  it('reads system crontabs with a user field and skips comments and environment lines', () => {
    const files = {
      '/etc/crontab': 'SHELL=/bin/sh\nPATH=/usr/bin:/bin\n# m h dom mon dow user command\n17 *\t* * *  root    cd / && run-parts --report /etc/cron.hourly\n',
      '/etc/cron.d/backup': 'MAILTO=""\n30 3 * * 0 backup /usr/local/bin/backup  --full\n@reboot root /usr/local/bin/warm-cache\n',
      '/etc/cron.d/.placeholder': '* * * * * root echo never',
      '/etc/cron.d/broken': '* * * root\n@sometimes root x\n',
    };
    const r = parseCrontabs(fileRecords(files), 'system');
    expect(r.value.map(({ source, userName, schedule, command, taskPath }) => ({ source, userName, schedule, command, taskPath }))).toEqual([
      { source: 'crontab', userName: 'root', schedule: '17 * * * *', command: 'cd / && run-parts --report /etc/cron.hourly', taskPath: '/etc/crontab' },
      { source: 'cron.d', userName: 'backup', schedule: '30 3 * * 0', command: '/usr/local/bin/backup  --full', taskPath: '/etc/cron.d/backup' },
      { source: 'cron.d', userName: 'root', schedule: '@reboot', command: '/usr/local/bin/warm-cache', taskPath: '/etc/cron.d/backup' },
    ]);
    expect(r.problems).toEqual(['/etc/cron.d/broken: 2 lines not in the crontab format were skipped']);
  });

  it('reads user crontabs from Debian, RHEL and SUSE spools; the file name is the user', () => {
    const files = {
      '/var/spool/cron/crontabs/alice': '# DO NOT EDIT THIS FILE\n*/5 * * * * /home/alice/bin/sync.sh\n@daily /home/alice/bin/report\n',
      '/var/spool/cron/bob': '0 9 * jan-mar mon-fri echo hi\n',
      '/var/spool/cron/tabs/carol': '0 0 1 * * ls\n',
      '/var/spool/cron/atjobs/a0001': '* * * * * not cron\n',
    };
    const r = parseCrontabs(fileRecords(files), 'spool');
    expect(r.value.map(({ source, userName, schedule, command }) => ({ source, userName, schedule, command }))).toEqual([
      { source: 'user-crontab', userName: 'alice', schedule: '*/5 * * * *', command: '/home/alice/bin/sync.sh' },
      { source: 'user-crontab', userName: 'alice', schedule: '@daily', command: '/home/alice/bin/report' },
      { source: 'user-crontab', userName: 'bob', schedule: '0 9 * jan-mar mon-fri', command: 'echo hi' },
      { source: 'user-crontab', userName: 'carol', schedule: '0 0 1 * *', command: 'ls' },
    ]);
  });
});

describe('systemd', () => {
  const list = [
    'ssh.service                            enabled         enabled',
    'sshd.service                           alias           -',
    'legacy.service                         disabled        enabled',
    'backup.service                         static          -',
    'telnet.service                         masked          enabled',
    'getty@.service                         enabled         enabled',
    'backup.timer                           enabled         enabled',
    'cleanup.timer                          disabled        enabled',
    'odd.service                            some-new-state  -',
    'garbage',
  ].join('\n');
  const settings = parseUnitSettings(fileRecords({
    '/lib/systemd/system/ssh.service': 'Description=OpenBSD Secure Shell server\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS',
    '/usr/lib/systemd/system/ssh.service': 'Description=OpenBSD Secure Shell server\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS',
    '/lib/systemd/system/backup.service': 'Description=Nightly backup\nUser=backup\nExecStart=/usr/local/bin/backup',
    '/etc/systemd/system/backup.service.d/10-user.conf': 'User=archiver',
    '/lib/systemd/system/backup.service.d/10-user.conf': 'User=ignored-lower-dir',
    '/lib/systemd/system/backup.timer': 'Description=Nightly backup timer\nOnCalendar=*-*-* 02:00:00\nOnBootSec=15min',
    '/etc/systemd/system/backup.timer.d/override.conf': 'OnCalendar=\nOnCalendar=*-*-* 03:00:00',
    '/lib/systemd/system/legacy.service': 'Description=Legacy daemon\nExecStart=\nExecStart=/opt/legacy/run',
  }));

  it('maps unit-file states to start types and reads users, descriptions and commands after drop-ins', () => {
    const units = parseUnitFiles(list);
    expect(units.problems).toEqual(['systemctl list-unit-files: 1 line were not understood']);
    expect(servicesOf(units.value, settings)).toEqual([
      { name: 'ssh.service', description: 'OpenBSD Secure Shell server', startType: ServiceStartType.Automatic, unitFileState: 'enabled', userName: null, binaryPathName: '/usr/sbin/sshd -D $SSHD_OPTS' },
      { name: 'legacy.service', description: 'Legacy daemon', startType: ServiceStartType.Manual, unitFileState: 'disabled', userName: null, binaryPathName: '/opt/legacy/run' },
      { name: 'backup.service', description: 'Nightly backup', startType: ServiceStartType.Manual, unitFileState: 'static', userName: 'archiver', binaryPathName: '/usr/local/bin/backup' },
      { name: 'telnet.service', description: null, startType: ServiceStartType.Disabled, unitFileState: 'masked', userName: null, binaryPathName: null },
      { name: 'odd.service', description: null, startType: ServiceStartType.Manual, unitFileState: 'some-new-state', userName: null, binaryPathName: null },
    ]);
  });

  it('lists timers that can fire, with the service they start', () => {
    expect(timersOf(parseUnitFiles(list).value, settings)).toEqual([
      {
        name: 'backup.timer', source: 'systemd-timer', taskPath: '/lib/systemd/system/backup.timer', userName: 'archiver',
        schedule: 'OnBootSec=15min; OnCalendar=*-*-* 03:00:00', command: '/usr/local/bin/backup',
      },
    ]);
  });
});
