import { spawn } from 'node:child_process';
import { join } from 'node:path';

const IN_USE = 75; // EX_TEMPFAIL, what flock -E reports when the lock is held elsewhere

/** The `code` of the error when another process holds the lock (a running gateway, say). */
export const DATA_DIR_IN_USE = 'DATA_DIR_IN_USE';

/**
 * An exclusive advisory lock (flock(2)) on `DATA_DIR/gateway.lock`, held for as long as this process
 * lives. Node has no flock of its own, so a small util-linux `flock` process takes the lock and holds it
 * while its stdin, a pipe from this process, stays open: when this process exits for any reason,
 * kill -9 included, the kernel closes the pipe, the holder exits and the kernel drops the lock. Unlike a
 * PID file, a lock left by a dead process can never block a start, whatever PID the new process gets,
 * and it works across containers that share the volume. Resolves to a function that releases it.
 */
export function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'gateway.lock');
  return new Promise((resolve, reject) => {
    let holder;
    try {
      holder = spawn('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(IN_USE), file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (err) {
      return reject(err);
    }
    let stderr = '';
    holder.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<void>((done) => holder.once('exit', () => done()));
    holder.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new Error('The embedded store needs util-linux `flock` to lock DATA_DIR (apt-get install util-linux).') : err),
    );
    const refused = (code: number | null) => {
      if (code === IN_USE) reject(Object.assign(new Error(`DATA_DIR ${dir} is in use by another gateway; the embedded store serves one gateway. Use DATABASE_URL to run several.`), { code: DATA_DIR_IN_USE }));
      else reject(new Error(`Could not lock DATA_DIR ${dir}: ${stderr.trim() || `flock exited with ${code}`}`));
    };
    holder.once('exit', refused);
    holder.stdout.once('data', () => {
      holder.off('exit', refused);
      // The lock must not keep this process alive, nor be released before it ends.
      holder.unref();
      for (const stream of [holder.stdin, holder.stdout, holder.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
      resolve(async () => {
        // Waiting for the holder to exit must keep this process alive until it has.
        holder.ref();
        holder.stdin.end();
        await exited;
      });
    });
  });
}
