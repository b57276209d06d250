/** What a fleet host does when probed. */
export type FleetHostKind = 'ssh' | 'winrm' | 'closed' | 'silent';

/** One host of a fleet and the truth about it, which the tools under test are judged against. */
export interface FleetHost {
  /** `fleet-0001`, … in address order. */
  name: string;
  address: string;
  kind: FleetHostKind;
  /** ssh: the identification line the host sends on port 22. */
  banner?: string;
  /** ssh: the host sends its identification only after this delay (a slow host). */
  delayMs?: number;
  /** winrm: the WS-Management Identify ProductVersion it answers on port 5985. */
  productVersion?: string;
  /** What a scan should find; null for hosts that answer nothing useful (closed, silent). */
  expected: { os: string; version: string | null } | null;
}

export interface FleetPlanOptions {
  /** @default 2000 */
  hosts?: number;
  /** Share of hosts that drop SYNs. The others split 60:10:20 into SSH, WinRM and closed hosts. @default 0.1 */
  silent?: number;
  /** SSH hosts that send their identification only after 1–3 s. @default 1 % of the hosts, at least 3 */
  slow?: number;
  /** Seeds the order in which kinds fall on addresses. @default 1 */
  seed?: number;
}

// Real identification lines of the families the scanner knows, with the truth written out by hand (not
// derived by the scanner's own parser, which is what is being judged).
const SSH_FAMILIES = [
  { banner: 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', os: 'Debian', version: '12' },
  { banner: 'SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3', os: 'Debian', version: '11' },
  { banner: 'SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6', os: 'Ubuntu', version: '22.04' },
  { banner: 'SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5', os: 'Ubuntu', version: '24.04' },
  { banner: 'SSH-2.0-OpenSSH_8.0', os: 'RHEL-compatible Linux', version: '8' },
  { banner: 'SSH-2.0-OpenSSH_8.7', os: 'RHEL-compatible Linux', version: '9' },
  { banner: 'SSH-2.0-OpenSSH_9.6 FreeBSD-20240104', os: 'FreeBSD', version: '14' },
  { banner: 'SSH-2.0-OpenSSH_for_Windows_8.1', os: 'Windows', version: '10.0.20348' },
] as const;

const WINRM_FAMILIES = [
  { productVersion: 'OS: 10.0.20348 SP: 0.0 Stack: 3.0', version: '10.0.20348' }, // Server 2022
  { productVersion: 'OS: 10.0.17763 SP: 0.0 Stack: 3.0', version: '10.0.17763' }, // Server 2019
  { productVersion: 'OS: 6.3.9600 SP: 0.0 Stack: 3.0', version: '6.3.9600' }, // Server 2012 R2
] as const;

/** Addresses per /24 the fleet uses (.1–.250), so none ends in .0 or .255, which some tools treat specially. */
export const HOSTS_PER_SUBNET = 250;

/**
 * The hosts of a fleet: kinds in the requested shares, spread over the addresses in a seeded random order
 * (so neither tool meets all the silent hosts at once), SSH families and Windows versions in turn, and the
 * slow hosts' delays spread evenly over 1–3 s. `subnets` are the /24 prefixes (`198.18.1`) to fill.
 */
export function planFleet(subnets: readonly string[], options: FleetPlanOptions = {}): FleetHost[] {
  const total = options.hosts ?? 2000;
  const silentShare = options.silent ?? 0.1;
  if (!Number.isInteger(total) || total < 4) throw new RangeError('a fleet needs at least 4 hosts');
  if (!(silentShare >= 0 && silentShare < 1)) throw new RangeError('the silent share must be in [0, 1)');
  if (total > subnets.length * HOSTS_PER_SUBNET) throw new RangeError(`at most ${subnets.length * HOSTS_PER_SUBNET} hosts`);
  const silent = Math.round(total * silentShare);
  const answering = total - silent;
  const winrm = Math.round((answering * 10) / 90);
  const closed = Math.round((answering * 20) / 90);
  const ssh = answering - winrm - closed;
  const slow = Math.min(ssh, options.slow ?? Math.max(3, Math.round(total / 100)));

  const kinds: FleetHostKind[] = [
    ...Array<FleetHostKind>(ssh).fill('ssh'),
    ...Array<FleetHostKind>(winrm).fill('winrm'),
    ...Array<FleetHostKind>(closed).fill('closed'),
    ...Array<FleetHostKind>(silent).fill('silent'),
  ];
  shuffle(kinds, mulberry32(options.seed ?? 1));

  let sshSeen = 0;
  let winrmSeen = 0;
  return kinds.map((kind, i) => {
    const name = `fleet-${String(i + 1).padStart(4, '0')}`;
    const address = `${subnets[Math.floor(i / HOSTS_PER_SUBNET)]}.${(i % HOSTS_PER_SUBNET) + 1}`;
    if (kind === 'ssh') {
      const n = sshSeen++;
      const family = SSH_FAMILIES[n % SSH_FAMILIES.length]!;
      // Every (ssh ÷ slow)-th SSH host is slow, its delay stepping from 1 s to 3 s.
      const slowIndex = slow > 0 && n % Math.floor(ssh / slow) === 0 ? n / Math.floor(ssh / slow) : -1;
      const delayMs = slowIndex >= 0 && slowIndex < slow ? Math.round(1_000 + (2_000 * slowIndex) / Math.max(1, slow - 1)) : undefined;
      return { name, address, kind, banner: family.banner, ...(delayMs ? { delayMs } : {}), expected: { os: family.os, version: family.version } };
    }
    if (kind === 'winrm') {
      const family = WINRM_FAMILIES[winrmSeen++ % WINRM_FAMILIES.length]!;
      return { name, address, kind, productVersion: family.productVersion, expected: { os: 'Windows', version: family.version } };
    }
    return { name, address, kind, expected: null };
  });
}

/** Deterministic PRNG (mulberry32): the same seed gives the same fleet. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
