import { request, type IncomingMessage } from 'node:http';
import { probeSocket, type Fail, type Finish, type ProbeResult, type ProbeTimeouts } from './probe-result';

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
  return probeSocket<WinRmIdentity>(host, port, t, signal, 'WinRM answer', (socket, finish, fail) => {
    const req = request({
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
    req.on('response', (res) => onResponse(res, finish, fail));
    req.on('error', () => fail('protocol', 'WinRM request failed'));
    req.end(IDENTIFY);
    return () => req.destroy();
  });
}

function onResponse(res: IncomingMessage, finish: Finish<WinRmIdentity>, fail: Fail): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    body += chunk;
    if (body.length > MAX_RESPONSE_BYTES) fail('protocol', 'WinRM answer too large');
  });
  res.on('end', () => {
    if (res.statusCode === 401) return finish({ ok: true, value: { vendor: null, productVersion: null, authRequired: true } });
    const vendor = element(body, 'ProductVendor');
    if (res.statusCode !== 200 || !vendor) return fail('protocol', `HTTP ${res.statusCode} without a WS-Management identity`);
    finish({ ok: true, value: { vendor, productVersion: element(body, 'ProductVersion'), authRequired: false } });
  });
  res.on('error', () => fail('protocol', 'WinRM answer broken off'));
}
