import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// vitest reports a test worker that dies only as "Worker exited unexpectedly": not which file, which test,
// or how. Each worker keeps a mark naming the test it runs, removed once its file is done (vitest then ends
// the worker with SIGTERM); a mark left by a process that is gone names what was running when it died, even
// by a signal, which emits no 'exit'.

/** In a worker: note the test now starting. */
export function markTest(dir: string, label: string): void {
  writeFileSync(join(dir, String(process.pid)), label);
}

/** In a worker: its file is done. */
export function clearMark(dir: string): void {
  rmSync(join(dir, String(process.pid)), { force: true });
}

/** In the main process, after the run: the marks of workers that are gone, as lines to print; removes the directory. */
export function deadWorkers(dir: string): string[] {
  const lines: string[] = [];
  for (const pid of safeList(dir)) {
    if (alive(Number(pid))) continue;
    lines.push(`[test worker ${pid}] died while running (or cleaning up after): ${readFileSync(join(dir, pid), 'utf8')}`);
  }
  rmSync(dir, { recursive: true, force: true });
  return lines;
}

export function freshMarkDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

const safeList = (dir: string) => {
  try {
    return readdirSync(dir).filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
