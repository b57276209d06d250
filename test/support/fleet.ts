import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { FleetListenersReady } from './fleet-listeners';
import { createFleetNet, fleetUnavailable, sweepStaleFleets, type FleetNet } from './fleet-net';
import { HOSTS_PER_SUBNET, planFleet, type FleetHost, type FleetPlanOptions } from './fleet-plan';

export { fleetUnavailable } from './fleet-net';
export type { FleetHost, FleetHostKind } from './fleet-plan';

/** A fleet of hosts in a network namespace of its own, reached from this process through a veth. */
export interface Fleet {
  readonly hosts: readonly FleetHost[];
  readonly namespace: string;
  /** This namespace's end of the veth: the only interface the fleet may be reached by (`nmap -e`). */
  readonly interface: string;
  /** The routed block holding every host address. */
  readonly block: string;
  /** Remove listeners, namespace, veth, route and guard. Idempotent; also runs on exit and SIGINT/SIGTERM/SIGHUP. */
  stop(): Promise<void>;
}

const live = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Build a fleet (see planFleet for the mix of hosts), start its listeners inside the namespace and check
 * one host of each kind from here before returning. Throws, having cleaned up, when it cannot: not root,
 * no `ip` or `nft` (see fleetUnavailable), no free address block, a listener that would not bind, or a
 * host that does not behave as planned.
 */
export async function createFleet(options: FleetPlanOptions = {}): Promise<Fleet> {
  const unavailable = fleetUnavailable();
  if (unavailable) throw new Error(unavailable);
  sweepStaleFleets();
  installExitHooks();
  const subnets = Math.ceil((options.hosts ?? 2000) / HOSTS_PER_SUBNET);
  let net: FleetNet | null = null;
  let child: ChildProcess | null = null;
  // Synchronous, so that it can run in an exit or signal handler too.
  const stopNow = () => {
    live.delete(stopNow);
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    net?.teardown();
  };
  live.add(stopNow);
  try {
    net = createFleetNet(subnets);
    const hosts = planFleet(net.subnets, options);
    net.dropSynsTo(hosts.filter((h) => h.kind === 'silent').map((h) => h.address));
    child = await startListeners(net.namespace, hosts);
    await verify(hosts);
    const started = child;
    let stopping: Promise<void> | null = null;
    return {
      hosts,
      namespace: net.namespace,
      interface: net.veth,
      block: net.block,
      stop: () =>
        (stopping ??= (async () => {
          const exited = started.exitCode === null && started.signalCode === null ? new Promise((resolve) => started.once('exit', resolve)) : null;
          started.ref(); // keep this process up until the listeners are gone
          started.kill('SIGKILL');
          await exited;
          stopNow();
        })()),
    };
  } catch (err) {
    stopNow();
    throw err;
  }
}

function installExitHooks(): void {
  if (installed) return;
  installed = true;
  const stopAll = () => {
    for (const stop of [...live]) stop();
  };
  // 'exit' also runs after an uncaught exception or unhandled rejection ends the process.
  process.on('exit', stopAll);
  for (const signal of SIGNALS) {
    const onSignal = () => {
      stopAll();
      process.removeListener(signal, onSignal);
      // Die of the signal as if nobody had listened, unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
let installed = false;

async function startListeners(namespace: string, hosts: readonly FleetHost[]): Promise<ChildProcess> {
  const program = join(__dirname, 'fleet-listeners.ts');
  // The repository root, so that `--import tsx` resolves from its node_modules.
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', program], {
    cwd: join(__dirname, '..', '..'),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<FleetListenersReady>((resolve, reject) => {
    child.once('message', (m) => resolve(m as FleetListenersReady));
    child.once('exit', (code, signal) => reject(new Error(`fleet listeners exited (${code ?? signal}) before listening`)));
    child.once('error', reject);
    child.send(hosts);
  });
  if ('error' in ready) {
    child.kill('SIGKILL');
    throw new Error(`fleet listeners could not listen: ${ready.error}`);
  }
  const expected = hosts.filter((h) => h.kind === 'ssh' || h.kind === 'winrm').length;
  if (ready.listening !== expected) throw new Error(`fleet listeners bound ${ready.listening} ports, not ${expected}`);
  // Not a reason to keep this process alive.
  child.unref();
  child.channel?.unref();
  return child;
}

type Seen = { kind: 'data'; text: string } | { kind: 'refused' } | { kind: 'nothing' } | { kind: 'connected' } | { kind: 'error'; code: string };

/** What a raw connect to address:port sees within `ms`: refused, nothing at all, a connection, or its first line. */
function look(address: string, port: number, ms: number, waitForData: boolean): Promise<Seen> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (seen: Seen) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(seen);
    };
    let connected = false;
    const timer = setTimeout(() => done(connected ? { kind: 'connected' } : { kind: 'nothing' }), ms);
    socket.once('connect', () => {
      connected = true;
      if (!waitForData) done({ kind: 'connected' });
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\n')) done({ kind: 'data', text: text.slice(0, text.indexOf('\n')).trim() });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'error', code: err.code ?? '?' }));
  });
}

function identify(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port: 5985, path: '/wsman', method: 'POST', timeout: 2_000, headers: { 'content-type': 'application/soap+xml' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end('<Identify/>');
  });
}

/** One host of each kind, from this namespace through the veth, before anything is timed. */
async function verify(hosts: readonly FleetHost[]): Promise<void> {
  const first = (p: (h: FleetHost) => boolean) => hosts.find(p);
  const problems: string[] = [];
  const expect = (what: string, seen: Seen, ok: (s: Seen) => boolean) => {
    if (!ok(seen)) problems.push(`${what}: saw ${JSON.stringify(seen)}`);
  };
  const ssh = first((h) => h.kind === 'ssh' && !h.delayMs);
  const slow = first((h) => h.kind === 'ssh' && !!h.delayMs);
  const winrm = first((h) => h.kind === 'winrm');
  const closed = first((h) => h.kind === 'closed');
  const silent = first((h) => h.kind === 'silent');
  if (ssh) {
    expect(`SSH host ${ssh.address}:22`, await look(ssh.address, 22, 2_000, true), (s) => s.kind === 'data' && s.text === ssh.banner);
    expect(`SSH host ${ssh.address}:5985`, await look(ssh.address, 5985, 2_000, false), (s) => s.kind === 'refused');
  }
  if (slow) expect(`slow SSH host ${slow.address}:22 (no banner yet)`, await look(slow.address, 22, 300, true), (s) => s.kind === 'connected');
  if (winrm) {
    const answer = await identify(winrm.address).catch((err: Error) => err.message);
    if (!answer.startsWith('200 ') || !answer.includes(winrm.productVersion!)) problems.push(`WinRM host ${winrm.address}: ${answer.slice(0, 80)}`);
    expect(`WinRM host ${winrm.address}:22`, await look(winrm.address, 22, 2_000, false), (s) => s.kind === 'refused');
  }
  if (closed) expect(`closed host ${closed.address}:22`, await look(closed.address, 22, 2_000, false), (s) => s.kind === 'refused');
  if (silent) {
    const [on22, on5985] = await Promise.all([look(silent.address, 22, 300, false), look(silent.address, 5985, 300, false)]);
    expect(`silent host ${silent.address}:22`, on22, (s) => s.kind === 'nothing');
    expect(`silent host ${silent.address}:5985`, on5985, (s) => s.kind === 'nothing');
  }
  if (problems.length > 0) throw new Error(`the fleet does not behave as planned:\n  ${problems.join('\n  ')}`);
}
