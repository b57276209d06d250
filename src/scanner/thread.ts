import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ScanTarget } from '../model';
import type { CredentialSource } from './credentialed';
import type { ScanOptions, ScanOutcome, Scanner } from './index';
import { batchedSender, type FromThread, type ScanThreadOptions, type ToThread } from './thread-protocol';

export interface ThreadedScanner extends Scanner {
  /** Start the thread now (it starts with the first scan otherwise); resolves once it can scan. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Kill the thread as a crash would (tests only). */
  terminateForTests(): Promise<void>;
}

interface Pending {
  signal: AbortSignal;
  options?: ScanOptions;
  resolve: (outcome: ScanOutcome) => void;
  reject: (err: unknown) => void;
  onAbort: () => void;
}

/**
 * The credentialed scanner run on a thread of its own, so that probes' socket callbacks do not queue in
 * front of the store's answers and the requests on the main thread (bench/scan.ts measures what it is
 * worth). Same contract as the scanner it runs; credentials are opened here, on the main thread, when the
 * scanner thread asks for one. Messages go both ways in one array per turn of the event loop. Should the
 * thread die, its scans fail with a system error and the next scan starts a new thread.
 */
export function createThreadedScanner(o: { options: Omit<ScanThreadOptions, 'credentials'>; credentials: CredentialSource | null; logger: Logger }): ThreadedScanner {
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let worker: Worker | null = null;
  let ready: Promise<void> = Promise.resolve();
  let send: (m: ToThread) => void = () => {};
  let stopped = false;

  const settle = (id: number, end: (p: Pending) => void) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    p.signal.removeEventListener('abort', p.onAbort);
    if (p.signal.aborted) p.reject(p.signal.reason);
    else end(p);
  };

  const reveal = async (id: number, credentialId: string, to: (m: ToThread) => void) => {
    try {
      to({ t: 'credential', id, credential: await o.credentials!.reveal(credentialId) });
    } catch (err) {
      to({ t: 'credential', id, credential: null, error: err instanceof Error ? err.message : String(err) });
    }
  };

  const spawn = (): Worker => {
    const w = new Worker(workerFile(), { workerData: { ...o.options, credentials: o.credentials !== null } satisfies ScanThreadOptions });
    w.unref();
    const to = batchedSender<ToThread>((batch) => w.postMessage(batch));
    let isReady!: () => void;
    let failed!: (err: Error) => void;
    ready = new Promise<void>((resolve, reject) => ((isReady = resolve), (failed = reject)));
    ready.catch(() => {}); // a thread that dies before it is ready fails its scans; start() callers see it
    w.on('message', (batch: FromThread[]) => {
      for (const m of batch) {
        if (m.t === 'ready') isReady();
        else if (m.t === 'done') settle(m.id, (p) => p.resolve(m.outcome));
        else if (m.t === 'failed') settle(m.id, (p) => p.reject(new Error(m.error ?? 'The scan ended without an outcome')));
        else if (m.t === 'waiting') pending.get(m.id)?.options?.waiting?.(m.waiting);
        else void reveal(m.id, m.credentialId, to);
      }
    });
    const died = (why: string) => {
      const err = new Error(`The scanner thread stopped (${why})`);
      failed(err);
      if (worker !== w) return;
      worker = null;
      if (stopped) return;
      o.logger.error({ why }, 'the scanner thread stopped; its scans fail and the next scan starts a new one');
      for (const id of [...pending.keys()]) settle(id, (p) => p.reject(err));
    };
    w.on('error', (err) => died(err.message));
    w.on('exit', (code) => died(`exit code ${code}`));
    worker = w;
    send = to;
    return w;
  };

  return {
    start() {
      if (stopped) return Promise.reject(new Error('The scanner is stopped'));
      if (!worker) spawn();
      return ready;
    },
    scan(target: ScanTarget, signal: AbortSignal, options?: ScanOptions): Promise<ScanOutcome> {
      if (signal.aborted) return Promise.reject(signal.reason);
      if (stopped) return Promise.reject(new Error('The scanner is stopped'));
      if (!worker) spawn();
      const id = nextId++;
      const { name, dnsHostName, ipAddress, sshPort, winRmPort, ssh } = target;
      return new Promise<ScanOutcome>((resolve, reject) => {
        const onAbort = () => send({ t: 'abort', id });
        pending.set(id, { signal, options, resolve, reject, onAbort });
        signal.addEventListener('abort', onAbort, { once: true });
        send({ t: 'scan', id, target: { name, dnsHostName, ipAddress, sshPort, winRmPort, ...(ssh ? { ssh } : {}) } });
      });
    },
    async stop() {
      stopped = true;
      const w = worker;
      worker = null;
      for (const id of [...pending.keys()]) settle(id, (p) => p.reject(new Error('The scanner is stopped')));
      await w?.terminate();
    },
    async terminateForTests() {
      await worker?.terminate();
    },
  };
}

/** The compiled worker script; under the test runner (TypeScript sources) the build in dist/ serves. */
function workerFile(): string {
  return __filename.endsWith('.ts') ? join(__dirname, '../../dist/scanner/thread-worker.js') : join(__dirname, 'thread-worker.js');
}
