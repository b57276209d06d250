import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { RetryPolicy } from '../src/scanner/retry';
import { armConnectDeadline, ConnectTimeout } from '../src/scanner/rtt';
import { grabSshBanner } from '../src/scanner/ssh';
import { fitConcurrency, openFileLimit } from '../src/scanner/fd-budget';

describe('ConnectTimeout', () => {
  const bounds = { initialMs: 1_000, minMs: 100, maxMs: 3_000 };

  it('waits the initial timeout until it has seen a round trip', () => {
    expect(new ConnectTimeout(bounds).ms).toBe(1_000);
  });

  it('follows srtt + 4·rttvar, boxed to its bounds', () => {
    const t = new ConnectTimeout({ ...bounds, minMs: 1 });
    t.observe(40); // srtt 40, rttvar 40 → 200
    expect(t.ms).toBe(200);
    t.observe(40); // rttvar → 30 → 160, but twice the slowest answer is 80
    expect(t.ms).toBe(160);
    const fast = new ConnectTimeout(bounds);
    fast.observe(0.2);
    expect(fast.ms).toBe(100);
  });

  it('covers twice the slowest recent answer: a far host is not a silent one', () => {
    const t = new ConnectTimeout(bounds);
    for (let i = 0; i < 50; i++) t.observe(1);
    t.observe(400);
    expect(t.ms).toBeGreaterThanOrEqual(800);
    for (let i = 0; i < 64; i++) t.observe(1);
    expect(t.ms).toBe(100);
  });

  it('never exceeds the maximum and ignores round trips that measure a loss', () => {
    const t = new ConnectTimeout(bounds);
    t.observe(2_500);
    expect(t.ms).toBe(3_000);
    const u = new ConnectTimeout(bounds);
    u.observe(9_000);
    expect(u.samples).toBe(0);
    expect(u.ms).toBe(1_000);
  });

  it('tells waiting connects when it shrinks markedly, not on jitter', () => {
    const t = new ConnectTimeout(bounds);
    let told = 0;
    t.onShrink(() => told++);
    t.observe(1);
    expect(told).toBe(1);
    for (let i = 0; i < 20; i++) t.observe(1 + (i % 3));
    expect(told).toBe(1);
  });

  it('holds a connect begun before the first round trip to the timeout learnt since', async () => {
    const t = new ConnectTimeout({ initialMs: 60_000, minMs: 20, maxMs: 60_000 });
    const used = new Promise<number>((resolve) => armConnectDeadline(t, performance.now(), resolve));
    t.observe(1);
    expect(await used).toBe(t.ms);
  });

  it('lets an answer that came while the event loop was blocked win over the deadline', async () => {
    const server = createServer((socket) => socket.end('SSH-2.0-OpenSSH_8.0\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      // Another timer hogs the loop past the 20 ms deadline while the handshake completes. Without the turn
      // the deadline waits, some of these runs ended "no answer".
      for (let run = 0; run < 5; run++) {
        const t = new ConnectTimeout({ initialMs: 20, minMs: 20, maxMs: 20 });
        setTimeout(() => {
          const until = performance.now() + 100;
          while (performance.now() < until);
        }, 5);
        const result = await grabSshBanner('127.0.0.1', (server.address() as AddressInfo).port, { connect: t, readTimeoutMs: 5_000 }, new AbortController().signal);
        expect(result).toEqual({ ok: true, value: { banner: 'SSH-2.0-OpenSSH_8.0', hostKey: null } });
      }
    } finally {
      server.close();
    }
  });
});

describe('RetryPolicy', () => {
  it('retries while retries pay, then one in sixteen', () => {
    const p = new RetryPolicy();
    for (let i = 0; i < 32; i++) {
      expect(p.shouldRetry()).toBe(true);
      p.record(false);
    }
    const decisions = Array.from({ length: 32 }, () => p.shouldRetry());
    expect(decisions.filter(Boolean)).toHaveLength(2);
    p.record(true);
    expect(p.shouldRetry()).toBe(true);
  });
});

describe('SCAN_CONNECT_TIMEOUT_MS', () => {
  it('defaults to nmap-like bounds: first 1 s, from 100 ms to 3 s', () => {
    expect(loadConfig({}).scanConnectTimeout).toEqual({ initialMs: 1_000, minMs: 100, maxMs: 3_000 });
  });

  it('sets the maximum; the minimum and the first timeout stay within it', () => {
    expect(loadConfig({ SCAN_CONNECT_TIMEOUT_MS: '500' }).scanConnectTimeout).toEqual({ initialMs: 500, minMs: 100, maxMs: 500 });
    expect(loadConfig({ SCAN_CONNECT_TIMEOUT_MS: '50' }).scanConnectTimeout).toEqual({ initialMs: 50, minMs: 50, maxMs: 50 });
    expect(loadConfig({ SCAN_CONNECT_TIMEOUT_MS: '2000', SCAN_CONNECT_TIMEOUT_MIN_MS: '2000' }).scanConnectTimeout).toEqual({ initialMs: 2_000, minMs: 2_000, maxMs: 2_000 });
  });

  it.each([
    [{ SCAN_CONNECT_TIMEOUT_MS: '5' }, 'SCAN_CONNECT_TIMEOUT_MS'],
    [{ SCAN_CONNECT_TIMEOUT_MS: '120000' }, 'SCAN_CONNECT_TIMEOUT_MS'],
    [{ SCAN_CONNECT_TIMEOUT_MIN_MS: '0' }, 'SCAN_CONNECT_TIMEOUT_MIN_MS'],
    [{ SCAN_CONNECT_TIMEOUT_MS: '200', SCAN_CONNECT_TIMEOUT_MIN_MS: '300' }, 'SCAN_CONNECT_TIMEOUT_MIN_MS'],
  ])('refuses %j', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });
});

describe('the open-file budget', () => {
  const limits = (soft: string) => () => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 1048576              files\n`;

  it('reads the soft open-file limit, and none where it is unlimited or unreadable', () => {
    expect(openFileLimit(limits('4096'))).toBe(4096);
    expect(openFileLimit(limits('unlimited'))).toBeNull();
    expect(openFileLimit(() => { throw new Error('no /proc'); })).toBeNull();
  });

  it('lowers SCAN_CONCURRENCY to what the limit leaves beside the reserve, never below 1', () => {
    expect(fitConcurrency(256, 1_048_576)).toBe(256);
    expect(fitConcurrency(256, 1_024 + 2 * 100)).toBe(100);
    expect(fitConcurrency(256, 256)).toBe(1);
    expect(fitConcurrency(256, null)).toBe(256);
  });
});
