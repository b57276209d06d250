import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectInventory, type CollectOutcome } from '../src/inventory/collect';
import { ServiceStartType, SshTrustAction, UserPrivilege, type InventorySnapshot } from '../src/inventory/model';
import type { HostKeyPolicy, SshCredential } from '../src/inventory/ssh-session';
import { inventorySshdAvailable, startInventorySshd, type InventorySshd } from './support/inventory-sshd';

const FIRST_CONTACT: HostKeyPolicy = { trust: SshTrustAction.ErrorOnThumbprintMismatch, knownFingerprint: null };

describe.skipIf(!inventorySshdAvailable())('collectInventory against a real sshd over the fixture /etc', () => {
  let sshd: InventorySshd;
  /** Every outcome and message these tests saw, searched for the secrets at the end. */
  const seen: unknown[] = [];
  const collect = async (credential: SshCredential, policy: HostKeyPolicy = FIRST_CONTACT) => {
    const outcome = await collectInventory({ host: sshd.host, port: sshd.port }, credential, policy, new AbortController().signal);
    seen.push(outcome);
    return outcome;
  };
  const asRoot = () => ({ username: 'root', privateKey: sshd.rootKey });
  const snapshotOf = (o: CollectOutcome): InventorySnapshot => {
    if (!o.ok) throw new Error(`expected a snapshot, got ${o.reason}: ${o.message}`);
    return o.snapshot;
  };
  const logDuring: InventorySshd['logDuring'] = (f, expected) => sshd.logDuring(f, expected);

  beforeAll(async () => {
    sshd = await startInventorySshd();
  });
  afterAll(async () => {
    await sshd?.close();
  });

  describe('as root (every part readable)', () => {
    let snapshot: InventorySnapshot;
    let outcome: CollectOutcome;
    beforeAll(async () => {
      outcome = await collect(asRoot());
      snapshot = snapshotOf(outcome);
    });

    it('reads the OS, the host names and the host key', () => {
      expect(snapshot).toMatchObject({ os: 'Fixture Linux', version: '12.7', hostName: 'fixture-host', dnsHostName: 'fixture-host.example.test' });
      expect(outcome).toMatchObject({ ok: true, hostKey: sshd.hostKey, hostKeyChanged: false });
    });

    it.each<[string, UserPrivilege, RegExp]>([
      ['root', UserPrivilege.SuperUser, /^uid 0$/],
      ['toor', UserPrivilege.SuperUser, /^uid 0$/],
      ['alice', UserPrivilege.Administrator, /^member of sudo$/],
      ['bob', UserPrivilege.Administrator, /^primary group wheel$/],
      ['heidi', UserPrivilege.Administrator, /^sudoers \/etc\/sudoers\.d\/admins: %admins ALL=\(ALL\) ALL$/],
      ['frank', UserPrivilege.Administrator, /^sudoers \/etc\/sudoers\.d\/frank: frank ALL=\(ALL\) NOPASSWD: ALL$/],
      ['dave', UserPrivilege.Administrator, /^sudoers \/etc\/sudoers: OPERATORS ALL = \(root\) NOPASSWD: EVERYTHING$/],
      ['oscar', UserPrivilege.Administrator, /^sudoers \/etc\/sudoers: OPERATORS/],
      ['grace', UserPrivilege.Administrator, /^sudoers \/etc\/sudoers: grace ALL = \(root\) ALL$/],
      ['carol', UserPrivilege.LinuxUser, /^$/],
      ['erin', UserPrivilege.LinuxUser, /^$/],
      ['mallory', UserPrivilege.LinuxUser, /^$/],
    ])('%s is %s', (name, privilege, reason) => {
      const user = snapshot.users.find((u) => u.name === name)!;
      expect(user.privilege).toBe(privilege);
      expect(user.privilegeReasons[0] ?? '').toMatch(reason);
    });

    it.each<[string, string[]]>([
      ['daemon', ['shell /usr/sbin/nologin', 'no password login (/etc/shadow password is *)']],
      ['ivan', ['shell /bin/false']],
      ['judy', ['password locked (/etc/shadow password starts with !)']],
      ['alice', []],
    ])('%s disabled: %j', (name, reasons) => {
      expect(snapshot.users.find((u) => u.name === name)).toMatchObject({ isDisabled: reasons.length > 0, disabledReasons: reasons });
    });

    it('lists groups with their primary members, services and scheduled tasks', () => {
      expect(snapshot.groups.find((g) => g.name === 'wheel')?.members).toEqual(['bob']);
      expect(snapshot.groups.find((g) => g.name === 'ops')?.members).toEqual(['oscar']);
      expect(snapshot.services.map((s) => [s.name, s.startType, s.userName])).toEqual([
        ['backup.service', ServiceStartType.Manual, 'backup'],
        ['cleanup.service', ServiceStartType.Manual, null],
        ['legacy.service', ServiceStartType.Manual, null],
        ['ssh.service', ServiceStartType.Automatic, null],
        ['telnet.service', ServiceStartType.Disabled, null],
        ['webapp.service', ServiceStartType.Automatic, 'webapp'],
      ]);
      expect(snapshot.scheduledTasks.map((t) => [t.source, t.userName, t.schedule, t.command])).toEqual([
        ['crontab', 'root', '17 * * * *', 'cd / && run-parts --report /etc/cron.hourly'],
        ['crontab', 'root', '25 6 * * *', 'test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }'],
        ['cron.d', 'backup', '30 3 * * 0', '/usr/local/bin/backup --full'],
        ['cron.d', 'root', '@reboot', '/usr/local/bin/warm-cache'],
        ['user-crontab', 'alice', '*/5 * * * *', '/home/alice/bin/sync.sh >/dev/null 2>&1'],
        ['user-crontab', 'alice', '@daily', '/home/alice/bin/report'],
        ['user-crontab', 'root', '0 4 * * 1', '/usr/sbin/logrotate /etc/logrotate.conf'],
        ['systemd-timer', 'backup', 'OnCalendar=*-*-* 02:00:00', '/usr/local/bin/backup --incremental'],
      ]);
    });

    it('notes only what the fixture leaves out on purpose', () => {
      expect(snapshot.notes).toEqual(['sudoers: /etc/sudoers includes /etc/sudoers.local, which was not read']);
    });
  });

  describe('as an unprivileged account', () => {
    it('still yields a snapshot when /etc/shadow, sudoers and the cron spool cannot be read, with notes saying so', async () => {
      const snapshot = snapshotOf(await collect({ username: 'scanner', password: sshd.scanner.password }));
      expect(snapshot.notes).toEqual([
        expect.stringMatching(/^\/etc\/shadow could not be read \(exit status 2: sed: can't read \/etc\/shadow: Permission denied\); locked passwords/),
        expect.stringMatching(/^sudoers \(\/etc\/sudoers, \/etc\/sudoers\.d\) could not be read \(exit status 2: grep: \/etc\/sudoers: Permission denied.*\); administrators granted by sudo rules are not known$/),
        expect.stringMatching(/^user crontabs \(\/var\/spool\/cron\) could not be read \(exit status 2: grep: \/var\/spool\/cron\/crontabs: Permission denied\)/),
      ]);
      expect(snapshot.users).toHaveLength(21);
      expect(snapshot.users.find((u) => u.name === 'judy')?.isDisabled).toBe(false); // shadow unread: not judged
      expect(snapshot.users.find((u) => u.name === 'alice')?.privilege).toBe(UserPrivilege.Administrator); // by group
      expect(snapshot.users.find((u) => u.name === 'frank')?.privilege).toBe(UserPrivilege.LinuxUser); // sudoers unread
      expect(snapshot.scheduledTasks.filter((t) => t.source === 'user-crontab')).toEqual([]);
    });

    it('logs in with a passphrase-protected key', async () => {
      const o = await collect({ username: 'scanner', privateKey: sshd.scanner.privateKey, passphrase: sshd.scanner.passphrase });
      expect(snapshotOf(o).users.length).toBe(21);
    });

    it('a wrong password is access-denied, as sshd saw it', async () => {
      const { result, log } = await logDuring(() => collect({ username: 'scanner', password: 'not-the-password' }), [/Failed password for scanner/]);
      expect(result).toMatchObject({ ok: false, reason: 'access-denied', message: `127.0.0.1:${sshd.port} refused the login of scanner` });
      expect(log).toMatch(/Failed password for scanner from 127\.0\.0\.1/);
    });

    it('a key the server does not accept is access-denied', async () => {
      const o = await collect({ username: 'scanner', privateKey: sshd.rootKey });
      expect(o).toMatchObject({ ok: false, reason: 'access-denied' });
    });

    it('a wrong passphrase is access-denied before any connection', async () => {
      const { result, log } = await logDuring(() => collect({ username: 'scanner', privateKey: sshd.scanner.privateKey, passphrase: 'wrong' }));
      expect(result).toMatchObject({ ok: false, reason: 'access-denied', message: expect.stringMatching(/private key could not be read/) });
      expect(log).not.toMatch(/Connection from/);
    });
  });

  describe('host key trust', () => {
    const policy = (trust: SshTrustAction, knownFingerprint: string | null) => ({ trust, knownFingerprint });

    it.each([SshTrustAction.ErrorOnThumbprintMismatch, SshTrustAction.WarnOnThumbprintMismatch, SshTrustAction.AlwaysTrustIgnoreThumbprint])(
      'trust %i: the matching key collects and is not changed',
      async (trust) => {
        const o = await collect(asRoot(), policy(trust, sshd.hostKey.fingerprint));
        expect(o).toMatchObject({ ok: true, hostKey: sshd.hostKey, hostKeyChanged: false });
      },
    );

    it('Warn collects a changed key and flags it', async () => {
      const o = await collect(asRoot(), policy(SshTrustAction.WarnOnThumbprintMismatch, sshd.otherFingerprint));
      expect(o).toMatchObject({ ok: true, hostKey: sshd.hostKey, hostKeyChanged: true });
    });

    it('AlwaysTrust collects a changed key (and still says it changed)', async () => {
      const o = await collect(asRoot(), policy(SshTrustAction.AlwaysTrustIgnoreThumbprint, sshd.otherFingerprint));
      expect(o).toMatchObject({ ok: true, hostKeyChanged: true });
    });

    it.each<[string, SshCredential | (() => SshCredential)]>([
      ['a password', () => ({ username: 'scanner', password: sshd.scanner.password })],
      ['a key', () => ({ username: 'root', privateKey: sshd.rootKey })],
    ])('Error fails on a changed key before %s is sent: sshd saw a connection and no authentication', async (_, credential) => {
      const { result, log } = await logDuring(() =>
        collect(typeof credential === 'function' ? credential() : credential, policy(SshTrustAction.ErrorOnThumbprintMismatch, sshd.otherFingerprint)),
      [/Connection from 127\.0\.0\.1 port \d+/, /KEX algorithms|kex: algorithm/, /Connection closed|Disconnected|Connection reset/]);
      expect(result).toEqual({
        ok: false,
        reason: 'host-key-mismatch',
        message: `the host key of 127.0.0.1:${sshd.port} has changed: expected ${sshd.otherFingerprint}, got ${sshd.hostKey.fingerprint} (ssh-ed25519); no credential was sent`,
        hostKey: sshd.hostKey,
      });
      expect(log).toMatch(/Connection from 127\.0\.0\.1 port \d+/);
      expect(log).toMatch(/KEX algorithms|kex: algorithm/);
      expect(log).not.toMatch(/userauth-request|Accepted|Failed|Postponed|userauth_pubkey|input_userauth/);
    });
  });

  it('no outcome or message of these tests contains the password or the passphrase', () => {
    const text = JSON.stringify(seen);
    expect(seen.length).toBeGreaterThan(10);
    expect(text).not.toContain(sshd.scanner.password);
    expect(text).not.toContain(sshd.scanner.passphrase);
  });
});
