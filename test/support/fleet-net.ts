import { spawnSync } from 'node:child_process';

/**
 * The network of a fleet: a namespace reached from this one over a veth pair, with a /20 of RFC 2544's
 * benchmarking range (198.18.0.0/15) routed into it. Inside, each /24 of hosts is a `local` route on the
 * namespace's loopback, so listeners bind any of its addresses and a port nobody listens on answers RST.
 *
 * No packet for the fleet may leave the machine: a guard table in this namespace drops anything for the
 * /20 that would go out of any interface but the veth. It is made before the route and removed after it.
 */
export interface FleetNet {
  readonly namespace: string;
  /** This namespace's end of the veth pair. */
  readonly veth: string;
  /** The routed /20, e.g. `198.18.32.0/20`. */
  readonly block: string;
  /** The /24 prefixes hosts may use, e.g. `198.18.33`. */
  readonly subnets: readonly string[];
  /** Make the namespace drop every SYN (not SYN-ACK) sent to these addresses: silent hosts. */
  dropSynsTo(addresses: readonly string[]): void;
  /** Remove the namespace, the veth, the route and the guard; synchronous and idempotent. */
  teardown(): void;
}

const BLOCKS = 32; // /20s in 198.18.0.0/15
const BLOCK_SUBNETS = 15; // its first /24 holds the veth link
let made = 0;

/** Why fleets cannot be made here, or null when they can. */
export function fleetUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'fleet tests need root (network namespaces, veth, nftables)';
  for (const tool of ['ip', 'nft']) {
    if (spawnSync(tool, ['-V'], { stdio: 'ignore' }).error) return `fleet tests need \`${tool}\` (Debian: ${tool === 'ip' ? 'iproute2' : 'nftables'})`;
  }
  return null;
}

/** Run a command; throw with its words when it fails. */
export function run(args: readonly string[], input?: string): string {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', input });
  if (r.error || r.status !== 0) throw new Error(`\`${args.join(' ')}\` failed: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
}

const quiet = (args: readonly string[]) => spawnSync(args[0]!, args.slice(1), { stdio: 'ignore' });

/** Make a fleet network with room for `subnetCount` /24s (at most 15). */
export function createFleetNet(subnetCount: number): FleetNet {
  if (subnetCount < 1 || subnetCount > BLOCK_SUBNETS) throw new RangeError(`a fleet network holds 1 to ${BLOCK_SUBNETS} /24s`);
  const seq = made++;
  const namespace = `fleet-${process.pid}-${seq}`;
  const veth = `fl${process.pid}x${seq}`.slice(0, 15);
  const guard = `fleet_guard_${process.pid}_${seq}`;
  const base = freeBlock((process.pid * 7 + seq) % BLOCKS);
  const [a, b, c] = base.split('.');
  const prefix = (k: number) => `${a}.${b}.${Number(c) + k}`;
  const block = `${base}.0/20`;
  const inside = (...args: string[]) => ['ip', 'netns', 'exec', namespace, ...args];
  let down = false;
  const teardown = () => {
    if (down) return;
    down = true;
    quiet(['ip', 'netns', 'del', namespace]);
    quiet(['ip', 'link', 'del', veth]); // gone with the namespace unless a process still holds it
    quiet(['nft', 'delete', 'table', 'inet', guard]);
  };
  try {
    run(['nft', 'add', 'table', 'inet', guard]);
    run(['nft', 'add', 'chain', 'inet', guard, 'out', '{ type filter hook output priority 0 ; }']);
    run(['nft', 'add', 'rule', 'inet', guard, 'out', 'ip', 'daddr', block, 'oifname', '!=', veth, 'counter', 'drop']);
    run(['ip', 'netns', 'add', namespace]);
    run(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'fleet0', 'netns', namespace]);
    run(['ip', 'addr', 'add', `${prefix(0)}.1/30`, 'dev', veth]);
    run(['ip', 'link', 'set', veth, 'up']);
    run(inside('ip', 'link', 'set', 'lo', 'up'));
    run(inside('ip', 'addr', 'add', `${prefix(0)}.2/30`, 'dev', 'fleet0'));
    run(inside('ip', 'link', 'set', 'fleet0', 'up'));
    for (let k = 1; k <= subnetCount; k++) run(inside('ip', 'route', 'add', 'local', `${prefix(k)}.0/24`, 'dev', 'lo'));
    run(inside('nft', 'add', 'table', 'inet', 'fleet'));
    run(inside('nft', 'add', 'chain', 'inet', 'fleet', 'input', '{ type filter hook input priority 0 ; }'));
    run(inside('nft', 'add', 'set', 'inet', 'fleet', 'silent', '{ type ipv4_addr ; }'));
    run(inside('nft', 'add', 'rule', 'inet', 'fleet', 'input', 'ip', 'daddr', '@silent', 'tcp', 'flags', '& (syn | ack) == syn', 'drop'));
    run(['ip', 'route', 'add', block, 'via', `${prefix(0)}.2`, 'dev', veth]);
    const probe = `${prefix(1)}.1`;
    const route = JSON.parse(run(['ip', '-j', 'route', 'get', probe])) as { dev?: string }[];
    if (route[0]?.dev !== veth) throw new Error(`${probe} routes via ${route[0]?.dev ?? 'nothing'}, not ${veth}`);
  } catch (err) {
    teardown();
    throw err;
  }
  return {
    namespace,
    veth,
    block,
    subnets: Array.from({ length: subnetCount }, (_, i) => prefix(i + 1)),
    dropSynsTo(addresses) {
      for (let i = 0; i < addresses.length; i += 200) {
        run(inside('nft', 'add', 'element', 'inet', 'fleet', 'silent', `{ ${addresses.slice(i, i + 200).join(', ')} }`));
      }
    },
    teardown,
  };
}

/**
 * The first /20 of 198.18.0.0/15 from `start` on that overlaps no route or address of this namespace
 * (any table; default routes aside, which a more specific route does not take over). Refuses when none is free.
 */
function freeBlock(start: number): string {
  const taken = [
    ...(JSON.parse(run(['ip', '-4', '-j', 'route', 'show', 'table', 'all'])) as { dst: string }[]).map((r) => r.dst),
    ...(JSON.parse(run(['ip', '-4', '-j', 'addr'])) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap((l) =>
      l.addr_info.map((i) => `${i.local}/${i.prefixlen}`),
    ),
  ].filter((dst) => dst !== 'default').map(cidr);
  for (let i = 0; i < BLOCKS; i++) {
    const n = (start + i) % BLOCKS;
    const base = `198.${18 + (n >> 4)}.${(n & 15) << 4}`;
    const mine = cidr(`${base}.0/20`);
    if (!taken.some((t) => overlaps(t, mine))) return base;
  }
  throw new Error('every /20 of 198.18.0.0/15 overlaps a route or address on this machine: refusing to make a fleet');
}

function cidr(text: string): { net: number; bits: number } {
  const [ip, len] = text.split('/');
  const bits = len === undefined ? 32 : Number(len);
  const n = ip!.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { net: (n & mask) >>> 0, bits };
}

function overlaps(x: { net: number; bits: number }, y: { net: number; bits: number }): boolean {
  const bits = Math.min(x.bits, y.bits);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((x.net & mask) >>> 0) === ((y.net & mask) >>> 0);
}

/** Remove the namespaces, veths and guards of fleets whose process died without cleaning up (kill -9). */
export function sweepStaleFleets(): void {
  const dead = (pid: string) => {
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  };
  for (const line of run(['ip', 'netns', 'list']).split('\n')) {
    const m = /^(fleet-(\d+)-\d+)\b/.exec(line);
    if (m && dead(m[2]!)) quiet(['ip', 'netns', 'del', m[1]!]);
  }
  for (const link of JSON.parse(run(['ip', '-j', 'link'])) as { ifname: string }[]) {
    const m = /^fl(\d+)x\d+$/.exec(link.ifname);
    if (m && dead(m[1]!)) quiet(['ip', 'link', 'del', link.ifname]);
  }
  for (const line of run(['nft', 'list', 'tables']).split('\n')) {
    const m = /^table inet (fleet_guard_(\d+)_\d+)$/.exec(line.trim());
    if (m && dead(m[2]!)) quiet(['nft', 'delete', 'table', 'inet', m[1]!]);
  }
}
