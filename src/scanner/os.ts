/** An operating system as far as a probe can tell. */
export interface OsGuess {
  os: string;
  version: string | null;
}

// Which OpenSSH release each distribution shipped, to name the release when the banner does not.
const DEBIAN_BY_OPENSSH: Record<string, string> = {
  '6.0': '7', '6.7': '8', '7.4': '9', '7.9': '10', '8.4': '11', '9.2': '12', '10.0': '13',
};
const UBUNTU_BY_OPENSSH: Record<string, string> = {
  '6.6': '14.04', '7.2': '16.04', '7.6': '18.04', '8.2': '20.04', '8.9': '22.04', '9.0': '22.10',
  '9.3': '23.10', '9.6': '24.04', '9.7': '24.10', '9.9': '25.04',
};
const RHEL_BY_OPENSSH: Record<string, string> = { '5.3': '6', '7.4': '7', '8.0': '8', '8.7': '9', '9.9': '10' };
const WINDOWS_BY_OPENSSH: Record<string, string> = {
  '7.7': '10.0.17763', '8.1': '10.0.20348', '8.6': '10.0.22621', '9.5': '10.0.26100',
};

interface BannerRule {
  /** Matched against the software-version and comments part of `SSH-2.0-<software> <comments>`. */
  pattern: RegExp;
  guess: (m: RegExpExecArray) => OsGuess;
}

const minor = (v: string) => /^\d+\.\d+/.exec(v)?.[0] ?? v;

/** Ordered: the first matching rule wins. Each has a test with a real banner. */
const RULES: BannerRule[] = [
  { pattern: /^OpenSSH_for_Windows_(\d+\.\d+)/i, guess: (m) => ({ os: 'Windows', version: WINDOWS_BY_OPENSSH[m[1]!] ?? null }) },
  { pattern: /^OpenSSH_([\d.]+)\S*\s+Debian-\S*deb(\d+)u\d+/, guess: (m) => ({ os: 'Debian', version: m[2]! }) },
  { pattern: /^OpenSSH_([\d.]+)\S*\s+Debian-/, guess: (m) => ({ os: 'Debian', version: DEBIAN_BY_OPENSSH[minor(m[1]!)] ?? null }) },
  { pattern: /^OpenSSH_([\d.]+)\S*\s+Raspbian-/, guess: (m) => ({ os: 'Raspbian', version: DEBIAN_BY_OPENSSH[minor(m[1]!)] ?? null }) },
  { pattern: /^OpenSSH_([\d.]+)\S*\s+Ubuntu-/, guess: (m) => ({ os: 'Ubuntu', version: UBUNTU_BY_OPENSSH[minor(m[1]!)] ?? null }) },
  { pattern: /^OpenSSH_([\d.]+)\S*\s+FreeBSD-(\d{8})/, guess: (m) => ({ os: 'FreeBSD', version: freebsdRelease(m[1]!) }) },
  { pattern: /^OpenSSH_([\d.]+)\S*\s+NetBSD_Secure_Shell/, guess: () => ({ os: 'NetBSD', version: null }) },
  { pattern: /^OpenSSH_([\d.]+)$/, guess: (m) => rhelFamily(m[1]!) },
  { pattern: /^dropbear/i, guess: () => ({ os: 'Linux', version: null }) },
];

/** RHEL and its rebuilds (CentOS, Rocky, Alma, Oracle) send a bare `OpenSSH_x.y`; so do other systems. */
function rhelFamily(version: string): OsGuess {
  const release = RHEL_BY_OPENSSH[minor(version)];
  return release ? { os: 'RHEL-compatible Linux', version: release } : { os: 'Unix-like', version: null };
}

function freebsdRelease(openssh: string): string | null {
  const [major, min] = minor(openssh).split('.').map(Number) as [number, number];
  if (major >= 9) return '14';
  if (major === 8) return '13';
  if (major === 7 && min >= 8) return '12';
  return major === 7 ? '11' : null;
}

/**
 * OS and version from an SSH identification line (RFC 4253 §4.2: `SSH-protoversion-softwareversion SP comments`).
 * Null when the line is not an SSH identification or names no system we recognise.
 */
export function osFromSshBanner(banner: string): OsGuess | null {
  const m = /^SSH-(?:2\.0|1\.99)-(\S+)(?:\s+(.*))?$/.exec(banner.trim());
  if (!m) return null;
  const software = m[2] ? `${m[1]} ${m[2]}` : m[1]!;
  for (const rule of RULES) {
    const hit = rule.pattern.exec(software);
    if (hit) return rule.guess(hit);
  }
  return null;
}

/** Windows version from a WS-Management Identify `ProductVersion` such as `OS: 10.0.20348 SP: 0.0 Stack: 3.0`. */
export function versionFromWinRm(productVersion: string | null): string | null {
  return (productVersion && /OS:\s*([\d.]+)/.exec(productVersion)?.[1]) || null;
}
