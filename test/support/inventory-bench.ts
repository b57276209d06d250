/**
 * Costs of the inventory's network steps against the fixture sshd on loopback, in interleaved rounds:
 * the plain banner grab (src/scanner/ssh.ts) against probeHostKey, per host; and a full credentialed
 * collection. Client CPU is this process's user+system time; server CPU is sshd's (its reaped
 * per-connection children included, from /proc/PID/stat cutime+cstime). Wall times are medians.
 *
 *   npx tsx test/support/inventory-bench.ts [--probes=200] [--collections=20] [--rounds=3]
 *
 * Needs root (the fixture runs in a mount namespace). Numbers on a shared machine move with its load:
 * compare within one run.
 */
import { readFileSync } from 'node:fs';
import { collectInventory } from '../../src/inventory/collect';
import { SshTrustAction } from '../../src/inventory/model';
import { probeHostKey } from '../../src/inventory/probe-host-key';
import { grabSshBanner } from '../../src/scanner/ssh';
import { startInventorySshd, type InventorySshd } from './inventory-sshd';
import { ConnectTimeout } from '../../src/scanner/rtt';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const T = { connect: new ConnectTimeout({ initialMs: 5000, minMs: 5000, maxMs: 5000 }), readTimeoutMs: 5000 };
const TICK_MS = 1000 / 100; // USER_HZ

interface Cost {
  wallMs: number[];
  clientCpuMs: number;
  serverCpuMs: number;
  n: number;
}

function sshdCpuMs(sshd: InventorySshd): number {
  const pid = readFileSync(`${sshd.root}/sshd.pid`, 'utf8').trim();
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ", utime stime cutime cstime are fields 12..15 of the rest.
  return fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0) * TICK_MS;
}

async function measure(sshd: InventorySshd, n: number, once: () => Promise<unknown>, into: Cost): Promise<void> {
  const cpu0 = process.cpuUsage();
  const server0 = sshdCpuMs(sshd);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once();
    into.wallMs.push(performance.now() - t);
  }
  await new Promise((r) => setTimeout(r, 300)); // sshd reaps its children
  const cpu = process.cpuUsage(cpu0);
  into.clientCpuMs += (cpu.user + cpu.system) / 1000;
  into.serverCpuMs += sshdCpuMs(sshd) - server0;
  into.n += n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const report = (name: string, c: Cost) =>
  console.log(`${name.padEnd(22)} wall median ${median(c.wallMs).toFixed(2)} ms   client CPU ${(c.clientCpuMs / c.n).toFixed(2)} ms   sshd CPU ${(c.serverCpuMs / c.n).toFixed(2)} ms   (n=${c.n})`);

async function main(): Promise<void> {
  const probes = arg('probes', 200);
  const collections = arg('collections', 20);
  const rounds = arg('rounds', 3);
  const sshd = await startInventorySshd();
  const signal = new AbortController().signal;
  const fresh = (): Cost => ({ wallMs: [], clientCpuMs: 0, serverCpuMs: 0, n: 0 });
  const banner = fresh();
  const hostKey = fresh();
  const collection = fresh();
  try {
    // Warm up both paths (module loading, the crypto binding) before measuring.
    await grabSshBanner(sshd.host, sshd.port, T, signal);
    await probeHostKey(sshd.host, sshd.port, T, signal);
    for (let round = 0; round < rounds; round++) {
      await measure(sshd, probes, () => grabSshBanner(sshd.host, sshd.port, T, signal), banner);
      await measure(sshd, probes, () => probeHostKey(sshd.host, sshd.port, T, signal), hostKey);
      await measure(sshd, collections, async () => {
        const o = await collectInventory({ host: sshd.host, port: sshd.port }, { username: 'root', privateKey: sshd.rootKey },
          { trust: SshTrustAction.ErrorOnThumbprintMismatch, knownFingerprint: sshd.hostKey.fingerprint }, signal);
        if (!o.ok || o.snapshot.users.length !== 21) throw new Error(`collection failed: ${JSON.stringify(o).slice(0, 300)}`);
      }, collection);
    }
    report('SSH banner grab', banner);
    report('probeHostKey', hostKey);
    report('full collection', collection);
  } finally {
    await sshd.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
