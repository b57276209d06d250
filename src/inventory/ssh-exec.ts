import type { Socket } from 'node:net';
import type { Client, ClientChannel } from 'ssh2';
import type { FixedCommand } from './commands';

export interface ExecLimits {
  /** Standard output past this is not kept and the channel is closed. */
  maxStdoutBytes: number;
  maxStderrBytes: number;
  timeoutMs: number;
}

/** How one command ended. Exactly one of `exitCode`/`exitSignal`/`failure` explains it, unless `stdoutCut` or `timedOut`. */
export interface ExecResult {
  exitCode: number | null;
  exitSignal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  /** The output reached `maxStdoutBytes`; `stdout` holds exactly that many bytes and the channel was closed. */
  stdoutCut: boolean;
  timedOut: boolean;
  /** The command could not run or the connection ended under it, in words. */
  failure: string | null;
}

/**
 * A logged-in SSH connection that runs fixed commands, each on its own exec channel. Every byte a host
 * sends is counted against the limits; a command that overruns its time or output is cut off by
 * closing its channel, and its result says so. Nothing a host sends can throw out of here.
 */
export class SshSession {
  private closed = false;
  private readonly pending = new Set<(failure: string) => void>();

  constructor(private readonly client: Client, private readonly socket: Socket) {
    const lost = () => {
      this.closed = true;
      for (const end of [...this.pending]) end('the connection closed');
    };
    client.on('close', lost);
    client.on('end', lost);
    client.on('error', () => {}); // the connection's end follows and is handled by `lost`
  }

  /** Whether the connection is gone (closed by us or by the host). */
  get isClosed(): boolean {
    return this.closed || this.socket.destroyed;
  }

  /** Runs one fixed command; always resolves. */
  exec(command: FixedCommand, limits: ExecLimits): Promise<ExecResult> {
    return new Promise((resolve) => {
      const out = new Bounded(limits.maxStdoutBytes);
      const err = new Bounded(limits.maxStderrBytes);
      let exitCode: number | null = null;
      let exitSignal: string | null = null;
      let channel: ClientChannel | undefined;
      let settled = false;
      const finish = (how: { failure?: string; timedOut?: boolean }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(onLost);
        // Closing tells the server to stop; anything it still sends is counted nowhere and dropped.
        channel?.close();
        resolve({
          exitCode,
          exitSignal,
          stdout: out.bytes(),
          stderr: err.bytes(),
          stdoutCut: out.full,
          timedOut: how.timedOut ?? false,
          failure: how.failure ?? null,
        });
      };
      const onLost = (failure: string) => finish({ failure });
      const timer = setTimeout(() => finish({ timedOut: true }), limits.timeoutMs);
      if (this.isClosed) return finish({ failure: 'the connection closed' });
      this.pending.add(onLost);
      try {
        this.client.exec(command, (error, stream) => {
          if (error) return finish({ failure: 'the host did not open a channel for the command' });
          channel = stream;
          if (settled) return stream.close();
          stream.on('data', (chunk: Buffer) => {
            if (!out.add(chunk)) finish({});
          });
          stream.stderr.on('data', (chunk: Buffer) => err.add(chunk));
          stream.on('exit', (code: number | null, signalName?: string) => {
            exitCode = typeof code === 'number' ? code : null;
            exitSignal = typeof signalName === 'string' ? signalName : null;
          });
          stream.on('error', () => finish({ failure: 'the channel failed' }));
          stream.stderr.on('error', () => {});
          stream.on('close', () => finish({}));
        });
      } catch {
        finish({ failure: 'the connection closed' });
      }
    });
  }

  /** Ends the connection and destroys the socket at once. Idempotent. */
  close(): void {
    this.closed = true;
    for (const end of [...this.pending]) end('the session was closed');
    try {
      this.client.end();
    } catch {
      // already ended
    }
    this.socket.destroy();
  }
}

/** Keeps at most `max` bytes; `add` returns false once the limit is reached. */
class Bounded {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  full = false;
  constructor(private readonly max: number) {}
  add(chunk: Buffer): boolean {
    if (this.full) return false;
    const room = this.max - this.size;
    // Copied: the chunk's memory belongs to the SSH library.
    this.chunks.push(Buffer.from(chunk.subarray(0, room)));
    this.size += Math.min(chunk.length, room);
    // Reaching the limit counts as cut: whether more would have come cannot be known without reading it.
    this.full = this.size >= this.max;
    return !this.full;
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
