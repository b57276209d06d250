import { requireRole, type Principal } from './auth';
import { AppError } from './errors';
import type { Store } from './store';

/** Backups of the running embedded store: Admin only (a backup holds every record, sealed secrets included). */
export class BackupService {
  constructor(private readonly o: { store: Store }) {}

  /** The backup file's bytes, taken at one consistent point while the gateway keeps serving. */
  async backup(principal: Principal): Promise<Buffer> {
    requireRole(principal, ['Admin']);
    const backup = this.o.store.backup;
    if (!backup) throw new AppError('CONFLICT', 'This gateway runs on PostgreSQL (DATABASE_URL): back it up with pg_dump (see the README).');
    return backup();
  }
}
