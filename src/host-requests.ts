import { badInput, type FieldErrors } from './errors';
import { describe, hasControlCharacters, isHostName, isIpAddress, isUuid, optional } from './validate';

/** `SbPAM.Models.HostScanJobRequest`: a host to create or update, and scan. */
export interface HostScanJobRequest {
  dnsHostName: string | null;
  ipAddress: string | null;
  os: string | null;
  credentialId: string | null;
  credentialName: string | null;
  platformName: string | null;
  acceptThumbprintOnFirstDiscovery: boolean | null;
  sshTrustActionType: number | null;
  certificateType: number | null;
  trustedThumbprint: string | null;
  sshPort: number | null;
  source: string | null;
}

/** `SbPAM.Models.HostScanJobResponse`: the request with what is wrong with it, field by field (null: fine). */
export interface HostScanJobResponse extends HostScanJobRequest {
  credentialNameError: string | null;
  platformNameError: string | null;
  ipAddressError: string | null;
  dnsHostNameError: string | null;
}

export type RowErrors = Pick<HostScanJobResponse, 'credentialNameError' | 'platformNameError' | 'ipAddressError' | 'dnsHostNameError'>;

// The platforms the scanner tells apart; the vendor's own list is longer but names these the same.
const PLATFORMS = new Set(['linux', 'windows']);
const TRUST_ACTIONS = [0, 1, 2]; // AlwaysTrustIgnoreThumbprint, WarnOnThumbprintMismatch, ErrorOnThumbprintMismatch
const CERTIFICATE_TYPES = [0, 1, 2]; // WinRM, RDP, SSH
const THUMBPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/**
 * Requests from a body: a value of the wrong type is BAD_INPUT for the whole call, keyed `$[i].field`
 * (the vendor's response has no place for it); what a CSV row can get wrong in a well-typed value is
 * left to `rowErrors`, which answers per field.
 */
export function parseRequests(value: unknown, max: number): HostScanJobRequest[] {
  if (!Array.isArray(value)) throw badInput({ $: [`Expected a JSON array of HostScanJobRequest, not ${describe(value)}.`] });
  if (value.length === 0 || value.length > max) throw badInput({ $: [`From 1 to ${max} requests are allowed at once (got ${value.length}).`] });
  const errors: FieldErrors = {};
  const rows = value.map((raw, i): HostScanJobRequest => {
    const at = (field: string, message: string) => void (errors[`$[${i}]${field ? `.${field}` : ''}`] ??= []).push(message);
    const r = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : (at('', `Expected an object, not ${describe(raw)}.`), {})) as Record<string, unknown>;
    const text = (field: keyof HostScanJobRequest, maxLength = 255): string | null => {
      const v = optional(r[field]);
      if (v === null) return null;
      if (typeof v !== 'string' || v.length > maxLength || hasControlCharacters(v)) return at(field, `Expected text of at most ${maxLength} characters without control characters.`), null;
      return v.trim() || null;
    };
    const oneOf = (field: keyof HostScanJobRequest, allowed: number[]): number | null => {
      const v = optional(r[field]);
      if (v === null) return null;
      if (!allowed.includes(v as number)) return at(field, `${describe(v)} is not one of ${allowed.join(', ')}.`), null;
      return v as number;
    };
    const credentialId = optional(r.credentialId);
    if (credentialId !== null && !isUuid(credentialId)) at('credentialId', `${describe(credentialId)} is not a valid UUID.`);
    const accept = optional(r.acceptThumbprintOnFirstDiscovery);
    if (accept !== null && typeof accept !== 'boolean') at('acceptThumbprintOnFirstDiscovery', 'Expected true or false.');
    const port = optional(r.sshPort);
    if (port !== null && !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) at('sshPort', `${describe(port)} is not a port number (1-65535).`);
    const thumbprint = text('trustedThumbprint', 100);
    if (thumbprint !== null && !THUMBPRINT.test(thumbprint)) at('trustedThumbprint', 'Expected an SSH key fingerprint such as SHA256:<43 base64 characters>.');
    return {
      dnsHostName: text('dnsHostName'),
      ipAddress: text('ipAddress', 45),
      os: text('os'),
      credentialId: isUuid(credentialId) ? credentialId.toLowerCase() : null,
      credentialName: text('credentialName'),
      platformName: text('platformName'),
      acceptThumbprintOnFirstDiscovery: typeof accept === 'boolean' ? accept : null,
      sshTrustActionType: oneOf('sshTrustActionType', TRUST_ACTIONS),
      certificateType: oneOf('certificateType', CERTIFICATE_TYPES),
      trustedThumbprint: thumbprint,
      sshPort: port as number | null,
      source: text('source'),
    };
  });
  if (Object.keys(errors).length > 0) throw badInput(errors);
  return rows;
}

/**
 * What is wrong with one request, as the vendor's response fields say it. `credentialKnown` tells
 * whether the credential it names (by id or name) exists.
 */
export function rowErrors(r: HostScanJobRequest, credentialKnown: boolean): RowErrors {
  return {
    dnsHostNameError:
      r.dnsHostName === null && r.ipAddress === null ? 'A DNS host name or an IP address is required.'
      : r.dnsHostName !== null && !isHostName(r.dnsHostName) ? `'${r.dnsHostName}' is not a DNS host name.`
      : null,
    ipAddressError: r.ipAddress !== null && !isIpAddress(r.ipAddress) ? `'${r.ipAddress}' is not an IP address.` : null,
    credentialNameError: credentialKnown ? null
      : r.credentialId !== null ? `No credential has the id '${r.credentialId}'.`
      : `No credential has the name '${r.credentialName}'.`,
    platformNameError: r.platformName !== null && !PLATFORMS.has(r.platformName.toLowerCase()) ? `Unknown platform '${r.platformName}'; expected Linux or Windows.` : null,
  };
}

/** The name a request's host goes by: its DNS name, else its address. */
export const requestHostName = (r: HostScanJobRequest): string => (r.dnsHostName ?? r.ipAddress)!;
