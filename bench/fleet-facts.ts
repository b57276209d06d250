// What each tool found about each fleet host, in one vocabulary, judged against the fleet's ground truth.
//
// "Same facts", as this benchmark counts them. For every host: its kind as seen from outside (an SSH host,
// a WinRM host, closed = both ports refused, silent = both ports dropped), its OS family and its release.
// A tool finds a fact when its own structured output states it: for the gateway the scan's status, `os`
// and `version`; for nmap a port's state, and the OS named by its service detection (`ostype` and the
// `cpe:/o:` names). nmap's free-text version string ("9.2p1 Debian 2+deb12u3") is not read for a release:
// that would be applying the gateway's banner tables to nmap's output. nmap's "Linux" for a Debian, Ubuntu
// or RHEL host is counted as consistent but less specific, not as wrong.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { FleetHost, FleetHostKind } from '../test/support/fleet';

/** What one tool says about one host. */
export interface Found {
  kind: FleetHostKind | 'unclear';
  os: string | null;
  version: string | null;
}

/** The gateway's outcome for a host, from its scan record. */
export function gatewayFound(scan: { status: number; statusDescription: string; os: string | null; version: string | null }): Found {
  if (scan.status === 2) {
    const kind = /\(SSH /.test(scan.statusDescription) ? 'ssh' : /\(WinRM /.test(scan.statusDescription) ? 'winrm' : 'unclear';
    return { kind, os: scan.os, version: scan.version };
  }
  const d = scan.statusDescription;
  const kind = /SSH connection refused.*WinRM connection refused/.test(d) ? 'closed' : /SSH no answer.*WinRM no answer/.test(d) ? 'silent' : 'unclear';
  return { kind, os: null, version: null };
}

const CPE_OS: [RegExp, string][] = [
  [/^cpe:\/o:debian:debian_linux/, 'Debian'],
  [/^cpe:\/o:canonical:ubuntu_linux/, 'Ubuntu'],
  [/^cpe:\/o:(?:redhat:enterprise_linux|centos:centos|rocky|almalinux)/, 'RHEL-compatible Linux'],
  [/^cpe:\/o:freebsd:freebsd/, 'FreeBSD'],
  [/^cpe:\/o:microsoft:windows/, 'Windows'],
];

interface NmapPort {
  port: number;
  state: string;
  ostype: string | null;
  cpes: string[];
}

/** nmap's XML (-oX) reduced to the ports of each address. */
export function parseNmapXml(xml: string): Map<string, NmapPort[]> {
  const hosts = new Map<string, NmapPort[]>();
  for (const block of xml.split('<host ').slice(1)) {
    const address = /<address addr="([^"]+)" addrtype="ipv4"/.exec(block)?.[1];
    if (!address) continue;
    const ports = [...block.matchAll(/<port protocol="tcp" portid="(\d+)">([\s\S]*?)<\/port>/g)].map(([, id, body]) => ({
      port: Number(id),
      state: /<state state="([^"]+)"/.exec(body!)?.[1] ?? 'unknown',
      ostype: /<service [^>]*ostype="([^"]+)"/.exec(body!)?.[1] ?? null,
      cpes: [...body!.matchAll(/<cpe>([^<]+)<\/cpe>/g)].map((m) => m[1]!),
    }));
    hosts.set(address, ports);
  }
  return hosts;
}

/** What nmap says about a host, in the gateway's vocabulary. */
export function nmapFound(ports: NmapPort[] | undefined): Found {
  const state = (p: number) => ports?.find((x) => x.port === p)?.state ?? 'unknown';
  const [ssh, winrm] = [state(22), state(5985)];
  const kind: Found['kind'] =
    ssh === 'open' ? 'ssh' : winrm === 'open' ? 'winrm' : ssh === 'closed' && winrm === 'closed' ? 'closed' : ssh === 'filtered' && winrm === 'filtered' ? 'silent' : 'unclear';
  let os: string | null = null;
  let version: string | null = null;
  for (const cpe of ports?.flatMap((p) => p.cpes) ?? []) {
    const hit = CPE_OS.find(([pattern]) => pattern.test(cpe));
    if (hit && !os) {
      os = hit[1];
      version = cpe.split(':')[4] ?? null;
    }
  }
  os ??= ports?.map((p) => p.ostype).find((t) => t) ?? null;
  return { kind, os, version };
}

const LINUX = new Set(['Debian', 'Ubuntu', 'RHEL-compatible Linux', 'Raspbian', 'Linux']);

/** How a found OS compares with the truth: the same, consistent but coarser ("Linux" for Debian), absent, or wrong. */
export function judgeOs(found: string | null, truth: string): 'same' | 'coarser' | 'none' | 'wrong' {
  if (found === null) return 'none';
  if (found === truth) return 'same';
  return found === 'Linux' && LINUX.has(truth) ? 'coarser' : 'wrong';
}

/** Tallies of one tool's findings over the fleet. */
export interface Tally {
  kindRight: number;
  osSame: number;
  osCoarser: number;
  osNone: number;
  osWrong: number;
  versionSame: number;
  versionNone: number;
  versionWrong: number;
  /** Hosts where anything this tool stated contradicts the truth. */
  wrongHosts: string[];
}

export function tally(hosts: readonly FleetHost[], found: (h: FleetHost) => Found): Tally {
  const t: Tally = { kindRight: 0, osSame: 0, osCoarser: 0, osNone: 0, osWrong: 0, versionSame: 0, versionNone: 0, versionWrong: 0, wrongHosts: [] };
  for (const host of hosts) {
    const f = found(host);
    let wrong = f.kind !== host.kind;
    if (!wrong) t.kindRight++;
    if (host.expected) {
      const os = judgeOs(f.os, host.expected.os);
      t[({ same: 'osSame', coarser: 'osCoarser', none: 'osNone', wrong: 'osWrong' } as const)[os]]++;
      if (f.version === null) t.versionNone++;
      else if (f.version === host.expected.version) t.versionSame++;
      else t.versionWrong++;
      wrong ||= os === 'wrong' || (f.version !== null && f.version !== host.expected.version);
    }
    if (wrong) t.wrongHosts.push(`${host.name} ${host.kind}: ${JSON.stringify(f)}`);
  }
  return t;
}

/** nmap with the options that collect the facts the gateway collects, pinned to the fleet's interface. */
export function nmapArgs(iface: string, targetsFile: string, xmlFile: string): string[] {
  return ['-n', '-Pn', '-sV', '--version-light', '-T4', '-p22,5985', '-e', iface, '-iL', targetsFile, '-oX', xmlFile];
}

/** Run nmap; resolves with its wall time in seconds and its parsed output. */
export function runNmap(args: string[], xmlFile: string): { seconds: number; hosts: Map<string, NmapPort[]> } {
  const started = performance.now();
  const r = spawnSync('nmap', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (r.error || r.status !== 0) throw new Error(`nmap failed: ${r.error?.message ?? r.stderr}`);
  return { seconds, hosts: parseNmapXml(readFileSync(xmlFile, 'utf8')) };
}
