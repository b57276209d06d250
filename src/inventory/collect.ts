import { PARTS, type Part, type PartName } from './commands';
import type { InventorySnapshot } from './model';
import { clean, decodeUtf8 } from './parse/text';
import { redactSecrets } from './redact';
import { buildSnapshot, daysSinceEpoch, type PartResult } from './snapshot';
import type { ExecResult } from './ssh-exec';
import { openSession, type HostKey, type HostKeyPolicy, type SessionFailure, type SshCredential } from './ssh-session';

/** Every bound a collection keeps. */
export interface CollectLimits {
  connectTimeoutMs: number;
  /** From connected to logged in. */
  loginTimeoutMs: number;
  /** One command, from opening its channel to its exit. */
  commandTimeoutMs: number;
  /** The whole collection, connect included. Parts unfinished by then become notes. */
  totalTimeoutMs: number;
  /** Standard output kept per part; the rest is not read (the part is cut at its last whole line). */
  maxBytesPerPart: number;
  maxStderrBytes: number;
  /** Lines parsed per part. */
  maxLinesPerPart: number;
  /** Longer lines are skipped (a cut record would be a different record). */
  maxLineLength: number;
  /** Exec channels open at once; OpenSSH allows 10 sessions per connection by default. */
  maxParallel: number;
}

export const DEFAULT_COLLECT_LIMITS: Readonly<CollectLimits> = Object.freeze({
  connectTimeoutMs: 10_000,
  loginTimeoutMs: 15_000,
  commandTimeoutMs: 15_000,
  totalTimeoutMs: 60_000,
  maxBytesPerPart: 4 * 1024 * 1024,
  maxStderrBytes: 8 * 1024,
  maxLinesPerPart: 20_000,
  maxLineLength: 8192,
  maxParallel: 4,
});

export interface CollectTarget {
  host: string;
  port: number;
}

/**
 * A collection's result. On success `snapshot.notes` lists what could not be read (empty when all was):
 * the caller makes such a scan CompletedWithErrors. On failure `reason` is the class the caller maps
 * (access-denied → Failed/AccessDenied, timeout → ActionTimeout, connect-failed → FailedToConnect…).
 * No string in either ever contains the credential's password or passphrase.
 */
export type CollectOutcome =
  | { ok: true; snapshot: InventorySnapshot; hostKey: HostKey; hostKeyChanged: boolean }
  | SessionFailure;

/**
 * Logs in over SSH (host key checked first, see `openSession`) and reads the host's OS, users, groups,
 * sudo rules, services and scheduled tasks with the fixed commands of `commands.ts`, at most
 * `maxParallel` at a time, each bounded in bytes, lines and time. Resolves for every host behaviour;
 * rejects only when `signal` aborts, with `signal.reason`, at once and with the socket destroyed.
 */
export async function collectInventory(
  target: CollectTarget,
  credential: SshCredential,
  policy: HostKeyPolicy,
  signal: AbortSignal,
  limits: Partial<CollectLimits> = {},
  now: () => Date = () => new Date(),
): Promise<CollectOutcome> {
  const l: CollectLimits = { ...DEFAULT_COLLECT_LIMITS, ...limits };
  const secrets = 'password' in credential ? [credential.password] : credential.passphrase ? [credential.passphrase] : [];
  const started = Date.now();
  const opened = await openSession(target.host, target.port, credential, policy, {
    connectTimeoutMs: Math.min(l.connectTimeoutMs, l.totalTimeoutMs),
    loginTimeoutMs: Math.min(l.loginTimeoutMs, l.totalTimeoutMs),
  }, signal);
  if (!opened.ok) return redactSecrets(opened, secrets);

  const { session } = opened;
  let deadlinePassed = false;
  const deadline = setTimeout(() => {
    deadlinePassed = true;
    session.close();
  }, Math.max(0, l.totalTimeoutMs - (Date.now() - started)));
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      session.close();
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {}); // observed by the race below; this keeps an unraced rejection quiet
  try {
    const results = await Promise.race([readParts(session.exec.bind(session), l, () => deadlinePassed), aborted]);
    const snapshot = buildSnapshot(results, daysSinceEpoch(now()), { maxLines: l.maxLinesPerPart, maxLineLength: l.maxLineLength });
    return redactSecrets({ ok: true, snapshot, hostKey: opened.hostKey, hostKeyChanged: opened.hostKeyChanged }, secrets);
  } finally {
    clearTimeout(deadline);
    signal.removeEventListener('abort', onAbort);
    session.close();
  }
}

type Exec = (command: Part['command'], limits: { maxStdoutBytes: number; maxStderrBytes: number; timeoutMs: number }) => Promise<ExecResult>;

/** Runs every part, `maxParallel` at a time. */
async function readParts(exec: Exec, l: CollectLimits, deadlinePassed: () => boolean): Promise<Record<PartName, PartResult>> {
  const names = Object.keys(PARTS) as PartName[];
  const results = {} as Record<PartName, PartResult>;
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      if (deadlinePassed()) {
        results[name] = { ok: false, problem: `not read: the collection's time limit of ${l.totalTimeoutMs} ms passed` };
        continue;
      }
      const r = await exec(PARTS[name].command, { maxStdoutBytes: l.maxBytesPerPart, maxStderrBytes: l.maxStderrBytes, timeoutMs: l.commandTimeoutMs });
      results[name] = partResultOf(PARTS[name], r, l, deadlinePassed());
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, l.maxParallel) }, worker));
  return results;
}

/** Judges one command's end: output to parse, partial output, or a problem in words. */
export function partResultOf(part: Part, r: ExecResult, l: CollectLimits, deadlinePassed: boolean): PartResult {
  if (r.stdoutCut) {
    // Up to the last whole line: a record cut in half would be read as a different record.
    const end = r.stdout.lastIndexOf(0x0a);
    return { ok: true, text: decodeUtf8(r.stdout.subarray(0, end + 1)), cutAtBytes: l.maxBytesPerPart };
  }
  if (deadlinePassed && r.exitCode === null) return { ok: false, problem: `not read: the collection's time limit of ${l.totalTimeoutMs} ms passed` };
  if (r.timedOut) return { ok: false, problem: `no result within ${l.commandTimeoutMs} ms` };
  if (r.failure !== null) return { ok: false, problem: r.failure };
  if (r.exitCode === null) return { ok: false, problem: r.exitSignal ? `ended by signal ${clean(r.exitSignal).slice(0, 20)}` : 'ended without an exit status' };
  const text = decodeUtf8(r.stdout);
  if (part.okExits.includes(r.exitCode)) return { ok: true, text, cutAtBytes: null };
  const why = errorLine(r.stderr);
  if (part.partialExits.includes(r.exitCode) && text.length > 0) return { ok: true, text, cutAtBytes: null, partly: why ?? `exit status ${r.exitCode}` };
  if (r.exitCode === 127) return { ok: false, problem: `command not found${why ? `: ${why}` : ''}` };
  return { ok: false, problem: `exit status ${r.exitCode}${why ? `: ${why}` : ''}` };
}

/** The first line of a command's error output, cleaned and short, and how many more there were. */
function errorLine(stderr: Buffer): string | null {
  const lines = decodeUtf8(stderr).split('\n').map((s) => clean(s.trim())).filter(Boolean);
  if (lines.length === 0) return null;
  const first = lines[0]!.length > 200 ? `${lines[0]!.slice(0, 199)}…` : lines[0]!;
  return lines.length > 1 ? `${first}, and ${lines.length - 1} more` : first;
}
