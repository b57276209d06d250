import { parse } from 'csv-parse/sync';
import type { HostScanJobRequest } from './host-requests';

/** A CSV row that could not become a request, named by its first line (the header is line 1) and column. */
export interface CsvProblem {
  line: number;
  field: string;
  message: string;
}

export interface CsvRows {
  rows: { line: number; request: HostScanJobRequest }[];
  problems: CsvProblem[];
}

type Field = keyof HostScanJobRequest;

// Header names as people write them, folded (lower case, no spaces, dashes or underscores).
const HEADERS: Record<string, Field> = {
  dnshostname: 'dnsHostName', hostname: 'dnsHostName', dnsname: 'dnsHostName', host: 'dnsHostName', name: 'dnsHostName',
  ipaddress: 'ipAddress', ip: 'ipAddress', address: 'ipAddress',
  os: 'os', operatingsystem: 'os',
  credentialid: 'credentialId', credentialname: 'credentialName', credential: 'credentialName',
  platformname: 'platformName', platform: 'platformName',
  acceptthumbprintonfirstdiscovery: 'acceptThumbprintOnFirstDiscovery', acceptthumbprint: 'acceptThumbprintOnFirstDiscovery',
  sshtrustactiontype: 'sshTrustActionType', sshtrust: 'sshTrustActionType',
  certificatetype: 'certificateType',
  trustedthumbprint: 'trustedThumbprint', thumbprint: 'trustedThumbprint',
  sshport: 'sshPort', port: 'sshPort',
  source: 'source',
};
const ENUMS: Partial<Record<Field, string[]>> = {
  sshTrustActionType: ['AlwaysTrustIgnoreThumbprint', 'WarnOnThumbprintMismatch', 'ErrorOnThumbprintMismatch'],
  certificateType: ['WinRM', 'RDP', 'SSH'],
};
const fold = (header: string) => header.replace(/[\s_-]/g, '').toLowerCase();

/**
 * Read host scan requests from CSV text: a header row naming HostScanJobRequest fields (in any case,
 * with the usual aliases), a byte order mark or not, quoted fields with commas and line breaks. Values
 * are typed here (ports, booleans, enum names or numbers); what only the gateway can judge (credentials,
 * names, addresses) is left to ValidateImportedCSV. Problems name the row's first line and its column.
 */
export function readHostCsv(text: string): CsvRows {
  const problems: CsvProblem[] = [];
  let columns: (Field | null)[] = [];
  let records: { record: string[]; info: { lines: number } }[];
  try {
    // csv-parse counts a CRLF inside a quoted field as two lines; one kind of line end keeps line numbers true.
    records = parse(text.replace(/\r\n?/g, '\n'), { bom: true, info: true, skip_empty_lines: true, relax_column_count: true }) as unknown as typeof records;
  } catch (err) {
    const e = err as { lines?: number; message: string };
    return { rows: [], problems: [{ line: e.lines ?? 1, field: '', message: e.message }] };
  }
  const [header, ...body] = records;
  if (!header) return { rows: [], problems: [{ line: 1, field: '', message: 'The file is empty; expected a header row.' }] };
  columns = header.record.map((name) => {
    const field = HEADERS[fold(name)] ?? null;
    if (!field) problems.push({ line: 1, field: name, message: `Unknown column '${name}'; expected HostScanJobRequest field names.` });
    return field;
  });
  if (!columns.includes('dnsHostName') && !columns.includes('ipAddress')) {
    problems.push({ line: 1, field: '', message: 'Expected a dnsHostName or an ipAddress column.' });
  }
  const rows: CsvRows['rows'] = [];
  for (const { record, info } of body) {
    const line = info.lines - record.reduce((n, value) => n + (value.match(/\n/g)?.length ?? 0), 0);
    const at = (field: string, message: string) => void problems.push({ line, field, message });
    if (record.length !== columns.length) {
      at('', `Expected ${columns.length} fields, got ${record.length}.`);
      continue;
    }
    const request = emptyRequest();
    const values = request as unknown as Record<Field, unknown>;
    record.forEach((raw, i) => {
      const field = columns[i];
      const value = raw.trim();
      if (!field || value === '') return;
      const typed = typedValue(field, value);
      if (typed instanceof Error) at(field, typed.message);
      else values[field] = typed;
    });
    rows.push({ line, request });
  }
  return { rows, problems };
}

function typedValue(field: Field, value: string): unknown {
  if (field === 'sshPort') {
    const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
    return n >= 1 && n <= 65535 ? n : new Error(`'${value}' is not a port number (1-65535).`);
  }
  if (field === 'acceptThumbprintOnFirstDiscovery') {
    const v = value.toLowerCase();
    return ['true', 'yes', '1'].includes(v) ? true : ['false', 'no', '0'].includes(v) ? false : new Error(`'${value}' is not true or false.`);
  }
  const names = ENUMS[field];
  if (names) {
    const index = /^\d+$/.test(value) ? Number(value) : names.findIndex((n) => n.toLowerCase() === value.toLowerCase());
    return index >= 0 && index < names.length ? index : new Error(`'${value}' is not one of ${names.join(', ')}.`);
  }
  return value;
}

const emptyRequest = (): HostScanJobRequest => ({
  dnsHostName: null, ipAddress: null, os: null, credentialId: null, credentialName: null, platformName: null,
  acceptThumbprintOnFirstDiscovery: null, sshTrustActionType: null, certificateType: null, trustedThumbprint: null, sshPort: null, source: null,
});
