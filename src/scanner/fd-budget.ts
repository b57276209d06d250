import { readFileSync } from 'node:fs';

/** Sockets one host scan holds at once: SSH and WinRM are probed side by side. */
export const SOCKETS_PER_SCAN = 2;
/** Descriptors kept for everything else: HTTP and WebSocket clients, the store, logs, the runtime. */
export const RESERVED_FILES = 1_024;

/**
 * This process's open-file limit (the soft one, which Node raises to the hard one at start), from Linux's
 * /proc/self/limits; null where that cannot be read or says "unlimited".
 */
export function openFileLimit(limits: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | null {
  try {
    const line = limits().split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : null;
  } catch {
    return null;
  }
}

/** The most scans at once that `limit` open files allow beside the reserve; each silent host costs only its sockets. */
export function concurrencyAllowedBy(limit: number): number {
  return Math.max(0, Math.floor((limit - RESERVED_FILES) / SOCKETS_PER_SCAN));
}

/** SCAN_CONCURRENCY as this process can hold it: never more than its open files allow, never below 1. */
export function fitConcurrency(wanted: number, limit: number | null = openFileLimit()): number {
  return limit === null ? wanted : Math.min(wanted, Math.max(1, concurrencyAllowedBy(limit)));
}
