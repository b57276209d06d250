import { randomUUID } from 'node:crypto';
import type { Job } from '../../src/model';
import { call } from './http';

const TERMINAL = new Set([2, 3, 4, 5, 6]);

/** Poll `GET /api/v1/HostScanJob/{id}` until every host scan is terminal; returns the entity. */
export async function waitForJob(baseUrl: string, jobId: string, token: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call(`${baseUrl}/api/v1/HostScanJob/${jobId}`, { token });
    if (res.status !== 200) throw new Error(`GET job ${jobId}: ${res.status} ${res.text}`);
    const joins: any[] = res.json.hostScanJobHostJoin;
    if (joins.length > 0 && joins.every((j) => TERMINAL.has(j.actionQueue.status))) return res.json;
    if (Date.now() > deadline) throw new Error(`job ${jobId} not terminal after ${timeoutMs} ms: ${res.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Poll until `predicate` holds for the job entity. */
export async function waitForJobState(baseUrl: string, jobId: string, token: string, predicate: (job: any) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call(`${baseUrl}/api/v1/HostScanJob/${jobId}`, { token });
    if (res.status === 200 && predicate(res.json)) return res.json;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not reach the expected state: ${res.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A job that never touched a store, for the event bus alone: 20 Running scans whose text carries `padding`. */
export function fakeJob(tag: string, { padding = '', revision = 1, id = randomUUID() }: { padding?: string; revision?: number; id?: string } = {}): Job {
  const now = new Date();
  return {
    id, seq: '0', revision, createdBy: 'load', createdByUserName: 'load', createdFromAddress: null, nodeId: randomUUID(),
    createdAt: now, modifiedAt: now,
    scans: Array.from({ length: 20 }, (_, i) => ({
      id: randomUUID(), jobId: tag, hostId: null, name: `fake-${tag}-${i}`, dnsHostName: null, ipAddress: null, os: null, version: null,
      status: 1, statusDescription: `Running ${padding}`, failureReason: 0, hostConnected: false, attempts: 1, startedAt: now, finishedAt: null,
      createdAt: now, modifiedAt: now,
    })),
  };
}
