import type { Caller } from './audit';
import { requireRole } from './auth';
import { type CsvProblem, type CsvRows, readHostCsv } from './csv-import';
import { badInput } from './errors';
import type { HostScanService } from './service';

/** One job an import made: the rows it holds, by their first lines. */
export interface ImportedJob {
  id: string;
  batchId: string;
  hosts: number;
  firstLine: number;
  lastLine: number;
}

export interface CsvImportReport {
  /** Data rows read (the header not counted). */
  rows: number;
  /** Every problem, by line: the CSV's own (types, columns) and the gateway's (ValidateImportedCSV's). */
  problems: CsvProblem[];
  /** Rows with at least one problem. */
  badRows: number;
  /** Whether anything was imported (false for a check, and while any row is bad unless the good ones were asked for). */
  imported: boolean;
  jobs: ImportedJob[];
}

const ERROR_FIELDS = ['dnsHostNameError', 'ipAddressError', 'credentialNameError', 'platformNameError'] as const;
const ALLOWED: readonly ['Admin'] = ['Admin'];

type Row = CsvRows['rows'][number];

/**
 * CSV import for callers that hand over the file as text (the dashboard): the file read as the import
 * command reads it, every row checked by ValidateImportedCSV's own service call, and the rows imported by
 * `POST /api/v1/HostScanJob`'s, one job (and batch) per `chunk` rows. While any row is bad nothing is
 * imported, unless the caller asks for the good rows; a bad header imports nothing whatever is asked.
 */
export class HostImportService {
  constructor(private readonly options: { scans: HostScanService; chunk: number }) {}

  async importCsv(caller: Caller, input: { csv: unknown; importGood?: unknown; checkOnly?: unknown }): Promise<CsvImportReport> {
    // Asked first, so a caller who may not import learns that before anything about the file.
    requireRole(caller, ALLOWED);
    if (typeof input.csv !== 'string') throw badInput({ csv: ['Expected the CSV file as text.'] });
    const importGood = flag(input.importGood, 'importGood');
    const checkOnly = flag(input.checkOnly, 'checkOnly');
    const { rows, problems } = readHostCsv(input.csv);
    const typed = new Set(problems.map((p) => p.line));
    for (const part of this.chunks(rows.filter((r) => !typed.has(r.line)))) {
      const answers = await this.options.scans.validateRequests(caller, { requests: part.map((r) => r.request) });
      answers.forEach((answer, i) => {
        for (const key of ERROR_FIELDS) if (answer[key]) problems.push({ line: part[i]!.line, field: key.replace(/Error$/, ''), message: answer[key]! });
      });
    }
    problems.sort((a, b) => a.line - b.line);
    const bad = new Set(problems.map((p) => p.line));
    const report = { rows: rows.length, problems, badRows: [...bad].filter((line) => line > 1).length, imported: false, jobs: [] as ImportedJob[] };
    const good = rows.filter((r) => !bad.has(r.line));
    if (checkOnly || good.length === 0 || bad.has(1) || (bad.size > 0 && !importGood)) return report;
    for (const part of this.chunks(good)) {
      const { batchId, job } = await this.options.scans.createJobFromRequests(caller, { requests: part.map((r) => r.request) });
      report.jobs.push({ id: job.id, batchId, hosts: part.length, firstLine: part[0]!.line, lastLine: part.at(-1)!.line });
    }
    report.imported = true;
    return report;
  }

  private chunks(rows: Row[]): Row[][] {
    const out: Row[][] = [];
    for (let i = 0; i < rows.length; i += this.options.chunk) out.push(rows.slice(i, i + this.options.chunk));
    return out;
  }
}

function flag(value: unknown, name: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw badInput({ [name]: ['Expected true or false.'] });
  return value;
}
