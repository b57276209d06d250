import { describe, expect, it } from 'vitest';
import { diffSnapshots, type SnapshotDigest } from '../src/inventory/diff';
import { nameId } from '../src/inventory/ids';
import { UserPrivilege } from '../src/inventory/model';

const digest = (over: Partial<SnapshotDigest> = {}): SnapshotDigest => ({
  users: { root: { privilege: UserPrivilege.SuperUser, disabled: false }, bob: { privilege: UserPrivilege.LinuxUser, disabled: false } },
  services: ['ssh.service', 'cron.service'],
  tasks: ['/etc/crontab (root): 0 3 * * * backup'],
  hostKey: 'SHA256:one',
  ...over,
});

describe('diffSnapshots', () => {
  it('finds nothing for a first snapshot, or for the same one', () => {
    expect(diffSnapshots(null, digest())).toEqual([]);
    expect(diffSnapshots(digest(), digest())).toEqual([]);
  });

  it('names each difference, privileged ones marked, in a stable order', () => {
    const next = digest({
      users: { root: { privilege: UserPrivilege.SuperUser, disabled: true }, bob: { privilege: UserPrivilege.Administrator, disabled: false }, eve: { privilege: UserPrivilege.LinuxUser, disabled: false } },
      services: ['ssh.service', 'evil.service'],
      tasks: [],
      hostKey: 'SHA256:two',
    });
    expect(diffSnapshots(digest(), next).map((c) => [c.kind, c.subject, c.privileged])).toEqual([
      ['host-key-changed', 'SHA256:two', true],
      ['privilege-changed', 'bob', true],
      ['account-added', 'eve', false],
      ['account-disabled', 'root', true],
      ['service-added', 'evil.service', false],
      ['service-removed', 'cron.service', false],
      ['task-removed', '/etc/crontab (root): 0 3 * * * backup', false],
    ]);
  });

  it('does not call a host key that was not read a change', () => {
    expect(diffSnapshots(digest(), digest({ hostKey: null }))).toEqual([]);
  });
});

describe('nameId', () => {
  it('gives the same account on the same host the same version 5 UUID, and others different ones', () => {
    const host = '11111111-1111-4111-8111-111111111111';
    const id = nameId(host, 'user', 'root');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(nameId(host, 'user', 'root')).toBe(id);
    expect(nameId(host, 'group', 'root')).not.toBe(id);
    expect(nameId('22222222-2222-4222-8222-222222222222', 'user', 'root')).not.toBe(id);
  });
});
