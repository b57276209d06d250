/**
 * The narrow port the SQL store needs from a database driver. PGlite and `pg` each implement it;
 * no other module imports a driver.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Run a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * Delivers NOTIFY payloads. `onLost` fires when the connection drops (notifications may be missed from
 * then on); `onReconnect` when listening resumed.
 */
export interface Listener {
  readonly onPayload: (payload: string) => void;
  readonly onLost?: () => void;
  readonly onReconnect?: () => void;
}

/** What the store's parts need: statements, and transactions. */
export interface Sql extends Queryable {
  /** Run `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

export interface Db extends Sql {
  /** Whether the database answers now. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

/** A database with change notifications (PostgreSQL LISTEN/NOTIFY). */
export interface ListeningDb extends Db {
  /** LISTEN on `channel`; resolves to a function that stops listening. */
  listen(channel: string, listener: Listener): Promise<() => Promise<void>>;
}

/**
 * The only place the scan model's active statuses (Queued 0, Running 1, Paused 7) are written for SQL: the
 * partial unique index `host_scans_one_active_per_host` is defined with this predicate, and a query
 * must repeat it to the letter for PostgreSQL to use the index (as ON CONFLICT's arbiter).
 */
export const ACTIVE_SCAN = 'status IN (0, 1, 7)';

/**
 * Call before one statement inserts `rows` rows that other tables' foreign keys check. PostgreSQL checks each
 * row's keys with a plan it cached while the referenced table was small (a sequential scan), and keeps it as
 * the table grows until its statistics change, which on the embedded store (no autovacuum) can be minutes:
 * a 10,000-host schedule after a few hundred single scans took 13–38 s there, every check scanning the whole
 * jobs table, and 1.6 s with the plans dropped first. The checks run at the statement's end, so the plans
 * made again then see the tables' real size. Dropping cached plans changes nothing else a session holds.
 */
export async function replanBeforeBulkInsert(tx: Queryable, rows: number): Promise<void> {
  if (rows >= 200) await tx.query('DISCARD PLANS');
}
