// The scanner's own thread (see thread.ts): runs the credentialed scanner for the main thread's messages.
import { parentPort, workerData } from 'node:worker_threads';
import type { SshCredential } from '../inventory';
import { createCredentialedScanner } from './credentialed';
import { createProbeScanner } from './probe';
import { batchedSender, type FromThread, type ScanThreadOptions, type ToThread } from './thread-protocol';

const options = workerData as ScanThreadOptions;
const port = parentPort!;
const send = batchedSender<FromThread>((batch) => port.postMessage(batch));
const scans = new Map<number, AbortController>();
const reveals = new Map<number, { resolve: (c: SshCredential | null) => void; reject: (err: Error) => void }>();
let nextReveal = 1;

const scanner = createCredentialedScanner({
  probe: createProbeScanner({ connectTimeout: options.connectTimeout }),
  credentials: options.credentials
    ? {
        reveal: (credentialId) =>
          new Promise((resolve, reject) => {
            const id = nextReveal++;
            reveals.set(id, { resolve, reject });
            send({ t: 'reveal', id, credentialId });
          }),
      }
    : null,
  keyReadTimeoutMs: options.keyReadTimeoutMs,
  collectLimits: options.collectLimits,
});

async function scan(id: number, target: ToThread & { t: 'scan' }): Promise<void> {
  const controller = new AbortController();
  scans.set(id, controller);
  try {
    const outcome = await scanner.scan(target.target, controller.signal, { waiting: (waiting) => send({ t: 'waiting', id, waiting }) });
    send({ t: 'done', id, outcome });
  } catch (err) {
    send({ t: 'failed', id, error: controller.signal.aborted ? null : err instanceof Error ? err.message : String(err) });
  } finally {
    scans.delete(id);
  }
}

port.on('message', (batch: ToThread[]) => {
  for (const m of batch) {
    if (m.t === 'scan') void scan(m.id, m);
    else if (m.t === 'abort') scans.get(m.id)?.abort();
    else {
      const pending = reveals.get(m.id);
      reveals.delete(m.id);
      if (m.error !== undefined) pending?.reject(new Error(m.error));
      else pending?.resolve(m.credential);
    }
  }
});
send({ t: 'ready' });
