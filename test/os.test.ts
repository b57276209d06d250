import { describe, expect, it } from 'vitest';
import { osFromSshBanner, versionFromWinRm } from '../src/scanner/os';

describe('osFromSshBanner', () => {
  const banners: [string, { os: string; version: string | null } | null][] = [
    ['SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', { os: 'Debian', version: '12' }],
    ['SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3', { os: 'Debian', version: '11' }],
    ['SSH-2.0-OpenSSH_7.9p1 Debian-10+deb10u2', { os: 'Debian', version: '10' }],
    ['SSH-2.0-OpenSSH_10.0p2 Debian-7', { os: 'Debian', version: '13' }],
    ['SSH-2.0-OpenSSH_7.4p1 Raspbian-10+deb9u7', { os: 'Raspbian', version: '9' }],
    ['SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6', { os: 'Ubuntu', version: '22.04' }],
    ['SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5', { os: 'Ubuntu', version: '24.04' }],
    ['SSH-2.0-OpenSSH_8.2p1 Ubuntu-4ubuntu0.11', { os: 'Ubuntu', version: '20.04' }],
    ['SSH-2.0-OpenSSH_7.4', { os: 'RHEL-compatible Linux', version: '7' }],
    ['SSH-2.0-OpenSSH_8.0', { os: 'RHEL-compatible Linux', version: '8' }],
    ['SSH-2.0-OpenSSH_8.7', { os: 'RHEL-compatible Linux', version: '9' }],
    ['SSH-2.0-OpenSSH_9.6 FreeBSD-20240104', { os: 'FreeBSD', version: '14' }],
    ['SSH-2.0-OpenSSH_8.8 FreeBSD-20211221', { os: 'FreeBSD', version: '13' }],
    ['SSH-2.0-OpenSSH_for_Windows_8.1', { os: 'Windows', version: '10.0.20348' }],
    ['SSH-2.0-OpenSSH_for_Windows_7.7', { os: 'Windows', version: '10.0.17763' }],
    ['SSH-2.0-OpenSSH_for_Windows_9.5', { os: 'Windows', version: '10.0.26100' }],
    ['SSH-2.0-dropbear_2022.83', { os: 'Linux', version: null }],
    ['SSH-1.99-OpenSSH_8.0', { os: 'RHEL-compatible Linux', version: '8' }],
    ['SSH-2.0-OpenSSH_9.9', { os: 'RHEL-compatible Linux', version: '10' }],
    ['SSH-2.0-OpenSSH_6.1', { os: 'Unix-like', version: null }],
    ['SSH-2.0-Cisco-1.25', null],
    ['HTTP/1.1 400 Bad Request', null],
    ['', null],
  ];
  it.each(banners)('%s', (banner, expected) => {
    expect(osFromSshBanner(banner)).toEqual(expected);
  });
});

describe('versionFromWinRm', () => {
  it.each([
    ['OS: 10.0.20348 SP: 0.0 Stack: 3.0', '10.0.20348'],
    ['OS: 6.3.9600 SP: 0.0 Stack: 3.0', '6.3.9600'],
    ['Stack: 3.0', null],
    [null, null],
  ])('%s → %s', (input, expected) => {
    expect(versionFromWinRm(input)).toBe(expected);
  });
});
