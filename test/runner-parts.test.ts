import { describe, expect, it } from 'vitest';
import { ActionFailureReason, ActionStatus } from '../src/model';
import { createResultBatcher } from '../src/runner/batcher';
import { createLatch } from '../src/runner/latch';
import { dispose } from '../src/runner/outcome';
import { ReadyQueue } from '../src/runner/ready';
import { SlotBudget } from '../src/runner/slots';
import type { ClaimedScan } from '../src/store';

// The runner's parts that are plain arithmetic and decisions, without a store or a network.

describe('SlotBudget', () => {
  it('asks for the free slots, less what waits and what claims under way were promised', () => {
    const budget = new SlotBudget(4);
    expect(budget.wanted(0, false)).toBe(4);
    budget.scanStarted();
    budget.reserve(1);
    expect(budget.wanted(1, false)).toBe(1);
    budget.unreserve(1);
    expect(budget.wanted(0, false)).toBe(3);
    expect(budget.hasFreeSlot).toBe(true);
  });

  it('leases ahead as many as slots free while one batch is written, never more than concurrency', () => {
    const budget = new SlotBudget(10);
    expect(budget.readAhead()).toBe(0);
    budget.scanStarted();
    budget.scanEnded(20);
    budget.wrote(10);
    expect(budget.readAhead()).toBe(5);
    expect(budget.wanted(0, true)).toBe(15);
    budget.wrote(1_000);
    expect(budget.readAhead()).toBe(10);
  });

  it('leases nothing ahead while scans are slow', () => {
    const budget = new SlotBudget(32);
    budget.scanStarted();
    budget.scanEnded(5_000);
    budget.wrote(5);
    expect(budget.readAhead()).toBe(0);
    expect(budget.wanted(0, true)).toBe(32);
  });

  it('lets only talkingConcurrency scans talk; scans waiting on silent hosts free their place until they talk again', () => {
    const budget = new SlotBudget(6, 2);
    budget.scanStarted();
    budget.scanStarted();
    expect(budget.hasFreeSlot).toBe(false);
    expect(budget.wanted(0, false)).toBe(0);
    budget.scanWaiting(true);
    budget.scanStarted();
    budget.scanWaiting(true);
    expect([budget.hasFreeSlot, budget.wanted(0, false)]).toEqual([true, 1]);
    budget.scanWaiting(false);
    expect(budget.hasFreeSlot).toBe(false);
    // One ends while waiting, one while talking: both places come back.
    budget.scanEnded(10, true);
    budget.scanEnded(10, false);
    expect([budget.probing, budget.wanted(0, false)]).toEqual([1, 1]);
    for (let i = 0; i < 5; i++) {
      budget.scanStarted();
      budget.scanWaiting(true);
    }
    // Six run (all but one waiting): the total bounds them now.
    expect([budget.probing, budget.hasFreeSlot, budget.wanted(0, false)]).toEqual([6, false, 0]);
  });

  it('never asks for more than one claim holds', () => {
    expect(new SlotBudget(10_000).wanted(0, false)).toBe(256);
  });
});

describe('dispose: how a scan ended → what the store hears', () => {
  const outcome = { ok: true, description: 'Complete: Debian 12', ipAddress: '127.0.0.1', os: 'Debian', version: '12', hostConnected: true };
  it.each([
    ['a lost lease drops even a finished scan', { outcome, abort: 'lease-lost' as const }, 'drop'],
    ['a shutdown hands even a finished scan back', { outcome, abort: 'shutdown' as const }, 'release'],
    ['a scan that finished before its cancel is recorded as found', { outcome, abort: 'cancel' as const }, ActionStatus.Complete],
    ['a cancel with no outcome', { error: 'cancel', abort: 'cancel' as const }, ActionStatus.Cancelled],
    ['a timeout with no outcome', { error: 'timeout', abort: 'timeout' as const }, ActionStatus.Failed],
    ['a scanner that threw without an abort', { error: new Error('boom'), abort: null }, ActionStatus.Failed],
  ])('%s', (_name, ended, expected) => {
    const d = dispose({ timeoutMs: 30_000, ...ended });
    expect(d.kind === 'record' ? d.result.status : d.kind).toBe(expected);
  });

  it('says why: a timeout names its limit, a scanner error is a system error to log', () => {
    const timeout = dispose({ abort: 'timeout', timeoutMs: 1234 });
    expect(timeout).toMatchObject({ kind: 'record', result: { description: 'Timed out after 1234 ms', failureReason: ActionFailureReason.ActionTimeout } });
    const crash = dispose({ abort: null, error: new Error('boom'), timeoutMs: 1 });
    expect(crash).toMatchObject({ kind: 'record', unexpected: expect.any(Error), result: { description: 'Scanner error: boom', failureReason: ActionFailureReason.SystemError } });
  });
});

describe('the result batcher', () => {
  const result = { status: ActionStatus.Complete, description: '', failureReason: ActionFailureReason.NoError, hostConnected: true } as const;

  it('writes a burst in one batch while the next collects, sends that before settling the first, and fails only the batch that failed', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const batcher = createResultBatcher<string[]>({
      waitMs: 1,
      maxBatch: 10,
      send: async (batch) => {
        const ids = batch.map((b) => b.scanId);
        events.push(`send ${ids.join(',')}`);
        if (ids.includes('a')) await gate;
        if (ids.includes('bad')) throw new Error('store down');
        return ids;
      },
      settle: (ids) => void events.push(`settle ${ids.join(',')}`),
    });
    const first = [batcher.record('a', result), batcher.record('b', result)];
    await new Promise((r) => setTimeout(r, 10));
    const second = [batcher.record('c', result), batcher.record('bad', result)];
    await new Promise((r) => setTimeout(r, 10));
    expect(events).toEqual(['send a,b']);
    release();
    await Promise.all(first);
    await expect(Promise.all(second)).rejects.toThrow('store down');
    expect(events).toEqual(['send a,b', 'send c,bad', 'settle a,b']);
    expect(batcher.busy).toBe(false);
  });

  it('waits for a burst only while more results may come; a lone result goes at once', async () => {
    let more = true;
    const sentAfter: number[] = [];
    let started = 0;
    const batcher = createResultBatcher<void>({
      waitMs: 1_000,
      maxBatch: 10,
      moreMayCome: () => more,
      send: async () => void sentAfter.push(performance.now() - started),
      settle: () => {},
    });
    started = performance.now();
    await batcher.record('a', result);
    more = false;
    started = performance.now();
    await batcher.record('b', result);
    expect(sentAfter[0]).toBeGreaterThanOrEqual(990);
    expect(sentAfter[1]).toBeLessThan(500);
  });
});

describe('ReadyQueue', () => {
  const scan = (lane: string, id: string): ClaimedScan =>
    ({ id, lane, jobId: id, hostId: null, attempts: 1, name: id, dnsHostName: null, ipAddress: null, sshPort: null, winRmPort: null });
  const order = (q: ReadyQueue) => Array.from({ length: q.length }, () => q.next()!.id);

  it('starts waiting scans round-robin across lanes, in leased order within one', () => {
    const q = new ReadyQueue();
    q.push(['b1', 'b2', 'b3', 'b4'].map((id) => scan('batch', id)));
    q.push([scan('single', 's1'), scan('batch', 'b5'), scan('other', 'o1'), scan('single', 's2')]);
    expect(q.length).toBe(8);
    expect(order(q)).toEqual(['b1', 's1', 'o1', 'b2', 's2', 'b3', 'b4', 'b5']);
    expect(q.next()).toBeUndefined();
  });

  it('takes out the scans asked for, and drains the rest, keeping its count', () => {
    const q = new ReadyQueue();
    q.push([scan('a', 'a1'), scan('a', 'a2'), scan('b', 'b1'), scan('c', 'c1')]);
    expect(q.take(['a2', 'b1', 'unknown']).map((s) => s.id)).toEqual(['a2', 'b1']);
    expect(q.length).toBe(2);
    expect(q.ids()).toEqual(['a1', 'c1']);
    expect(q.drain().map((s) => s.id)).toEqual(['a1', 'c1']);
    expect(q.length).toBe(0);
  });
});

describe('the runner latch', () => {
  it('ends a sleep when woken, and ends it at its time when not', async () => {
    const latch = createLatch();
    const woken = latch.sleep(60_000);
    latch.wake();
    await woken; // a lost wake-up would leave this waiting a minute, past the test's limit
    const started = performance.now();
    await latch.sleep(20);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('remembers one wake-up that came while nobody slept, for the next sleep only', async () => {
    const latch = createLatch();
    latch.wake();
    latch.wake();
    await latch.sleep(60_000);
    let second = false;
    const sleeping = latch.sleep(30).then(() => (second = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(second).toBe(false);
    await sleeping;
  });
});
