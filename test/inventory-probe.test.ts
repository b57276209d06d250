import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeHostKey } from '../src/inventory/probe-host-key';
import { fingerprintOf } from '../src/inventory/ssh-session';
import { inventorySshdAvailable, startInventorySshd, type InventorySshd } from './support/inventory-sshd';
import { closedPort, silentListener } from './support/listeners';
import { ConnectTimeout } from '../src/scanner/rtt';

const T = { connect: new ConnectTimeout({ initialMs: 2000, minMs: 2000, maxMs: 2000 }), readTimeoutMs: 2000 };
const never = () => new AbortController().signal;

describe('fingerprintOf', () => {
  it('is OpenSSH\'s SHA256 form: unpadded base64', () => {
    // sha256("") = 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= in base64
    expect(fingerprintOf(Buffer.alloc(0))).toBe('SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU');
  });
});

describe.skipIf(!inventorySshdAvailable())('probeHostKey against a real sshd', () => {
  let sshd: InventorySshd;
  beforeAll(async () => {
    sshd = await startInventorySshd();
  });
  afterAll(async () => {
    await sshd?.close();
  });

  it('returns the key ssh-keygen prints, and sshd saw no authentication', async () => {
    const { result: r, log } = await sshd.logDuring(() => probeHostKey(sshd.host, sshd.port, T, never()), [
      /Connection from 127\.0\.0\.1/,
      /Connection closed|Disconnected|Connection reset/,
    ]);
    expect(r).toEqual({ ok: true, value: sshd.hostKey });
    expect(log).toMatch(/Connection from 127\.0\.0\.1/);
    expect(log).not.toMatch(/userauth-request|Accepted|Failed|Postponed/);
  });
});

describe('probeHostKey against what is not an SSH server', () => {
  it('refused', async () => {
    expect(await probeHostKey('127.0.0.1', await closedPort(), T, never())).toMatchObject({ ok: false, kind: 'refused', connected: false });
  });

  it('silent: times out at the read limit', async () => {
    const silent = await silentListener();
    try {
      expect(await probeHostKey('127.0.0.1', silent.port, { connect: new ConnectTimeout({ initialMs: 1000, minMs: 1000, maxMs: 1000 }), readTimeoutMs: 300 }, never()))
        .toEqual({ ok: false, kind: 'timeout', message: 'no SSH host key within 300 ms', connected: true });
    } finally {
      await silent.close();
    }
  });

  it('aborted', async () => {
    const silent = await silentListener();
    const controller = new AbortController();
    try {
      const probing = probeHostKey('127.0.0.1', silent.port, T, controller.signal);
      setTimeout(() => controller.abort(), 50);
      expect(await probing).toMatchObject({ ok: false, kind: 'aborted' });
    } finally {
      await silent.close();
    }
  });
});
