import { badInput, type FieldErrors } from './errors';
import type { HostInput } from './model';

// Input checks shared by the service and start-up loading. Each returns clean values or throws BAD_INPUT
// whose field errors are keyed the way ASP.NET keys them ($, $[3], hostId).

// PostgreSQL text cannot hold NUL, and no name or search term needs a control character.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether text holds a control character (NUL included), which no name or search term may. */
export const hasControlCharacters = (text: string): boolean => CONTROL.test(text);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** A short, safe rendering of a caller's value for an error message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    return value.length <= 64 && /^[\x20-\x7e]*$/.test(value) ? `'${value}'` : `a string of ${value.length} characters`;
  }
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A UUID path or query parameter, lower-cased. */
export function uuidParam(value: unknown, key: string): string {
  if (!isUuid(value)) throw badInput({ [key]: [`The value ${describe(value)} is not a valid UUID.`] });
  return value.toLowerCase();
}

/**
 * A JSON array of ids (`what` says of what: "host", "job"): 1..max UUID strings. Returns them lower-cased
 * and de-duplicated in first-seen order, plus every index each id appeared at (for errors about unknown ids).
 */
export function idList(value: unknown, max: number, what: string): { ids: string[]; indexes: Map<string, number[]> } {
  if (!Array.isArray(value)) {
    throw badInput({ $: [`Expected a JSON array of ${what} ids (UUID strings), not ${describe(value)}.`] });
  }
  if (value.length === 0) throw badInput({ $: [`At least one ${what} id is required.`] });
  if (value.length > max) {
    throw badInput({ $: [`At most ${max} ${what} ids are allowed in one request (got ${value.length}).`] });
  }
  const errors: FieldErrors = {};
  const indexes = new Map<string, number[]>();
  value.forEach((item, i) => {
    if (!isUuid(item)) {
      errors[`$[${i}]`] = [`The JSON value ${describe(item)} could not be converted to System.Guid (a UUID string).`];
      return;
    }
    const id = item.toLowerCase();
    indexes.set(id, [...(indexes.get(id) ?? []), i]);
  });
  if (Object.keys(errors).length > 0) throw badInput(errors);
  return { ids: [...indexes.keys()], indexes };
}

/** An integer query parameter within [min, max], or the fallback when absent. */
export function intParam(value: unknown, key: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw badInput({ [key]: [`The value ${describe(value)} is not valid; expected a whole number from ${min} to ${max}.`] });
  }
  return n;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/i;

export const isHostName = (value: unknown): value is string => typeof value === 'string' && HOSTNAME.test(value);
export const isIpAddress = (value: unknown): value is string =>
  typeof value === 'string' && (IPV4.test(value) || (value.includes(':') && IPV6.test(value)));

/** Host declarations (HOSTS_FILE, upsertHosts): errors keyed `$[i].field`. */
export function hostInputs(value: unknown, max: number): HostInput[] {
  if (!Array.isArray(value)) throw badInput({ $: [`Expected a JSON array of hosts, not ${describe(value)}.`] });
  if (value.length > max) throw badInput({ $: [`At most ${max} hosts are allowed at once (got ${value.length}).`] });
  const errors: FieldErrors = {};
  const hosts = value.map((raw, i) => {
    const at = (field: string, message: string) => ((errors[`$[${i}]${field ? `.${field}` : ''}`] ??= []).push(message), undefined);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return at('', `Expected a host object, not ${describe(raw)}.`);
    const h = raw as Record<string, unknown>;
    if (h.id !== undefined && h.id !== null && !isUuid(h.id)) at('id', `The value ${describe(h.id)} is not a valid UUID.`);
    if (typeof h.name !== 'string' || h.name.trim() === '' || h.name.length > 255 || hasControlCharacters(h.name)) {
      at('name', 'A name of 1 to 255 characters without control characters is required.');
    }
    const dns = optional(h.dnsHostName);
    if (dns !== null && !isHostName(dns)) at('dnsHostName', `${describe(dns)} is not a DNS host name.`);
    const ip = optional(h.ipAddress);
    if (ip !== null && !isIpAddress(ip)) at('ipAddress', `${describe(ip)} is not an IP address.`);
    for (const field of ['sshPort', 'winRmPort'] as const) {
      const port = optional(h[field]);
      if (port !== null && !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) {
        at(field, `${describe(port)} is not a port number (1-65535).`);
      }
    }
    return {
      ...(isUuid(h.id) ? { id: h.id.toLowerCase() } : {}),
      name: String(h.name ?? '').trim(),
      dnsHostName: dns as string | null,
      ipAddress: ip as string | null,
      sshPort: optional(h.sshPort) as number | null,
      winRmPort: optional(h.winRmPort) as number | null,
      ...loginOf(h, at),
    };
  });
  if (Object.keys(errors).length > 0) throw badInput(errors);
  return hosts as HostInput[];
}

/** A host's login and host key trust settings; each left out keeps what the host has (null credential: none). */
function loginOf(h: Record<string, unknown>, at: (field: string, message: string) => undefined): Partial<HostInput> {
  const login: Partial<HostInput> = {};
  if (h.credentialId !== undefined && h.credentialName !== undefined && h.credentialId !== null && h.credentialName !== null) {
    at('credentialName', 'Give credentialId or credentialName, not both.');
  }
  if (h.credentialId === null) login.credentialId = null;
  else if (h.credentialId !== undefined) {
    if (isUuid(h.credentialId)) login.credentialId = h.credentialId.toLowerCase();
    else at('credentialId', `The value ${describe(h.credentialId)} is not a valid UUID.`);
  }
  if (h.credentialName === null) login.credentialName = null;
  else if (h.credentialName !== undefined) {
    const name = typeof h.credentialName === 'string' ? h.credentialName.trim() : '';
    if (name === '' || name.length > 128 || hasControlCharacters(name)) at('credentialName', 'A credential name of 1 to 128 characters without control characters.');
    else login.credentialName = name;
  }
  if (h.sshTrust !== undefined && h.sshTrust !== null) {
    if (h.sshTrust === 0 || h.sshTrust === 1 || h.sshTrust === 2) login.sshTrust = h.sshTrust;
    else at('sshTrust', `${describe(h.sshTrust)} is not an SshTrustActionType (0 AlwaysTrustIgnoreThumbprint, 1 WarnOnThumbprintMismatch, 2 ErrorOnThumbprintMismatch).`);
  }
  if (h.acceptKeyOnFirstContact !== undefined && h.acceptKeyOnFirstContact !== null) {
    if (typeof h.acceptKeyOnFirstContact === 'boolean') login.acceptKeyOnFirstContact = h.acceptKeyOnFirstContact;
    else at('acceptKeyOnFirstContact', `${describe(h.acceptKeyOnFirstContact)} is not true or false.`);
  }
  return login;
}

export const optional = (v: unknown): unknown => (v === undefined || v === '' ? null : v);
