import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { ProbeTimeouts } from './ssh';
import { describeSocketError, type ProbeResult } from './probe-result';

/** What an unauthenticated WS-Management Identify tells about a host. */
export interface WinRmIdentity {
  vendor: string | null;
  productVersion: string | null;
  /** The listener wants credentials even for Identify: still a Windows host with WinRM. */
  authRequired: boolean;
}

const IDENTIFY = `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>`;
const MAX_RESPONSE_BYTES = 64 * 1024;

const element = (xml: string, name: string) =>
  new RegExp(`<(?:[\\w-]+:)?${name}\\b[^>]*>([^<]{0,200})</(?:[\\w-]+:)?${name}>`).exec(xml)?.[1]?.trim() ?? null;

/**
 * POST an Identify request to `http://host:port/wsman` (DSP0226 §11) without credentials. The TCP
 * connection is made first and the HTTP request built only once it stands: most hosts have no WinRM
 * listener, and a refused connect costs a third of a refused HTTP request.
 */
export function identifyWinRm(host: string, port: number, t: ProbeTimeouts, signal: AbortSignal): Promise<ProbeResult<WinRmIdentity>> {
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    let req: ClientRequest | null = null;
    const socket = connect({ host, port });
    const finish = (result: ProbeResult<WinRmIdentity>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      req?.destroy();
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, kind: 'aborted', message: 'aborted', connected });
    let timer = setTimeout(() => finish({ ok: false, kind: 'timeout', message: 'connect timed out', connected }), t.connectTimeoutMs);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, ...describeSocketError(err), connected }));
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => finish({ ok: false, kind: 'timeout', message: `no WinRM answer within ${t.readTimeoutMs} ms`, connected }), t.readTimeoutMs);
      req = request({
        host,
        port,
        path: '/wsman',
        method: 'POST',
        createConnection: () => socket,
        headers: {
          'content-type': 'application/soap+xml;charset=UTF-8',
          'content-length': Buffer.byteLength(IDENTIFY),
          wsmanidentify: 'unauthenticated',
        },
      });
      req.on('response', (res) => onResponse(res, finish));
      req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, ...describeSocketError(err), connected }));
      req.end(IDENTIFY);
    });
  });
}

function onResponse(res: IncomingMessage, finish: (result: ProbeResult<WinRmIdentity>) => void): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > MAX_RESPONSE_BYTES) finish({ ok: false, kind: 'protocol', message: 'WinRM answer too large', connected: true });
  });
  res.on('end', () => {
    if (res.statusCode === 401) return finish({ ok: true, value: { vendor: null, productVersion: null, authRequired: true } });
    const vendor = element(body, 'ProductVendor');
    if (res.statusCode !== 200 || !vendor) {
      return finish({ ok: false, kind: 'protocol', message: `HTTP ${res.statusCode} without a WS-Management identity`, connected: true });
    }
    finish({ ok: true, value: { vendor, productVersion: element(body, 'ProductVersion'), authRequired: false } });
  });
  res.on('error', () => finish({ ok: false, kind: 'protocol', message: 'WinRM answer broken off', connected: true }));
}
