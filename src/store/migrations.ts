import type { Sql } from './db';

/**
 * Versioned schema changes, applied in order, each once. The same SQL runs on PGlite and PostgreSQL.
 * Never edit a released migration; add the next one.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'hosts, jobs and host scans',
    sql: `
      CREATE TABLE gateway_meta (key text PRIMARY KEY, value text NOT NULL);
      INSERT INTO gateway_meta (key, value) VALUES ('node_id', gen_random_uuid()::text);

      CREATE TABLE hosts (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        dns_host_name text,
        ip_address text,
        os text,
        version text,
        ssh_port integer,
        win_rm_port integer,
        last_scan_time timestamptz,
        last_scan_start_time timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX hosts_name_key ON hosts (lower(name));

      CREATE TABLE host_scan_jobs (
        id uuid PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        status smallint NOT NULL DEFAULT 0,
        revision integer NOT NULL DEFAULT 0,
        created_by text,
        created_by_user_name text,
        created_from_address text,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX host_scan_jobs_status ON host_scan_jobs (status, seq);

      CREATE TABLE host_scans (
        id uuid PRIMARY KEY,
        job_id uuid NOT NULL REFERENCES host_scan_jobs (id) ON DELETE CASCADE,
        host_id uuid REFERENCES hosts (id) ON DELETE SET NULL,
        position integer NOT NULL,
        name text NOT NULL,
        dns_host_name text,
        ip_address text,
        os text,
        version text,
        ssh_port integer,
        win_rm_port integer,
        status smallint NOT NULL DEFAULT 0,
        status_description text NOT NULL DEFAULT 'Queued',
        failure_reason smallint NOT NULL DEFAULT 0,
        host_connected boolean NOT NULL DEFAULT false,
        attempts integer NOT NULL DEFAULT 0,
        cancel_requested boolean NOT NULL DEFAULT false,
        lease_owner text,
        lease_expires_at timestamptz,
        run_after timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now()
      );
      -- At most one queued or running scan per host: a second request gets the active job back.
      CREATE UNIQUE INDEX host_scans_one_active_per_host ON host_scans (host_id) WHERE status IN (0, 1);
      CREATE INDEX host_scans_job ON host_scans (job_id, position);
      CREATE INDEX host_scans_host_latest ON host_scans (host_id, created_at DESC);
      CREATE INDEX host_scans_ready ON host_scans (run_after) WHERE status = 0;
      CREATE INDEX host_scans_leases ON host_scans (lease_expires_at) WHERE status = 1;
    `,
  },
  {
    version: 2,
    name: 'the outcome of each host\'s last scan',
    sql: `ALTER TABLE hosts ADD COLUMN last_scan_status smallint;`,
  },
  {
    version: 3,
    name: 'credentials, SSH host key trust and inventory snapshots',
    sql: `
      CREATE TABLE credentials (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        kind smallint NOT NULL,
        username text NOT NULL,
        -- AES-256-GCM envelope of the secret (secrets.ts); the plaintext is never stored
        secret text NOT NULL,
        key_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX credentials_name_key ON credentials (lower(name));

      ALTER TABLE hosts ADD COLUMN credential_id uuid REFERENCES credentials (id);
      ALTER TABLE hosts ADD COLUMN ssh_trust smallint NOT NULL DEFAULT 2;
      ALTER TABLE hosts ADD COLUMN accept_key_on_first_contact boolean NOT NULL DEFAULT true;
      ALTER TABLE hosts ADD COLUMN ssh_host_key text;
      ALTER TABLE hosts ADD COLUMN ssh_host_key_algorithm text;
      ALTER TABLE hosts ADD COLUMN ssh_host_key_presented text;
      ALTER TABLE hosts ADD COLUMN latest_snapshot_id uuid;
      CREATE INDEX hosts_credential ON hosts (credential_id);

      CREATE TABLE host_snapshots (
        id uuid PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        host_id uuid NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
        scan_id uuid,
        os text,
        version text,
        host_name text,
        dns_host_name text,
        ssh_host_key text,
        ssh_host_key_algorithm text,
        notes jsonb NOT NULL,
        digest jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX host_snapshots_host ON host_snapshots (host_id, seq DESC);

      CREATE TABLE snapshot_users (
        snapshot_id uuid NOT NULL REFERENCES host_snapshots (id) ON DELETE CASCADE,
        id uuid NOT NULL,
        name text NOT NULL,
        display_name text,
        unix_id integer,
        unix_group_id integer,
        home_directory text,
        shell text,
        privilege smallint NOT NULL,
        privilege_reasons jsonb NOT NULL,
        is_disabled boolean NOT NULL,
        disabled_reasons jsonb NOT NULL,
        PRIMARY KEY (snapshot_id, id)
      );
      CREATE INDEX snapshot_users_id ON snapshot_users (id);

      CREATE TABLE snapshot_groups (
        snapshot_id uuid NOT NULL REFERENCES host_snapshots (id) ON DELETE CASCADE,
        id uuid NOT NULL,
        name text NOT NULL,
        unix_id integer,
        members jsonb NOT NULL,
        PRIMARY KEY (snapshot_id, id)
      );
      CREATE INDEX snapshot_groups_id ON snapshot_groups (id);

      CREATE TABLE snapshot_services (
        snapshot_id uuid NOT NULL REFERENCES host_snapshots (id) ON DELETE CASCADE,
        id uuid NOT NULL,
        name text NOT NULL,
        description text,
        start_type smallint NOT NULL,
        unit_file_state text NOT NULL,
        user_name text,
        binary_path_name text,
        PRIMARY KEY (snapshot_id, id)
      );

      CREATE TABLE snapshot_tasks (
        snapshot_id uuid NOT NULL REFERENCES host_snapshots (id) ON DELETE CASCADE,
        id uuid NOT NULL,
        name text NOT NULL,
        source text NOT NULL,
        task_path text NOT NULL,
        user_name text,
        schedule text NOT NULL,
        command text NOT NULL,
        PRIMARY KEY (snapshot_id, id)
      );

      CREATE TABLE snapshot_changes (
        snapshot_id uuid NOT NULL REFERENCES host_snapshots (id) ON DELETE CASCADE,
        position integer NOT NULL,
        kind text NOT NULL,
        subject text NOT NULL,
        privileged boolean NOT NULL,
        before text,
        after text,
        PRIMARY KEY (snapshot_id, position)
      );
    `,
  },
  {
    version: 4,
    name: 'audit trail',
    sql: `
      CREATE TABLE audit_records (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        action text NOT NULL,
        subject text,
        roles jsonb NOT NULL,
        address text,
        trace_id text,
        target text,
        details jsonb NOT NULL
      );
      CREATE INDEX audit_records_at ON audit_records (at);
      CREATE INDEX audit_records_subject ON audit_records (subject, id);
      CREATE INDEX audit_records_action ON audit_records (action, id);
      -- Append-only: records are written and, past the retention, removed; never changed.
      CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$;
      CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
        FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
    `,
  },
  {
    version: 5,
    name: 'job changes in order, for catching up on missed announcements',
    // The fallback poll reads jobs changed after a (time, id) position while notifications are missing.
    sql: `CREATE INDEX host_scan_jobs_changes ON host_scan_jobs (modified_at, id);`,
  },
  {
    version: 6,
    name: 'scan batches: the jobs each schedule call returned',
    sql: `
      CREATE TABLE host_scan_batches (
        id uuid PRIMARY KEY,
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- A job a call got back because its host was already queued belongs to that call's batch too.
      CREATE TABLE host_scan_batch_jobs (
        batch_id uuid NOT NULL REFERENCES host_scan_batches (id) ON DELETE CASCADE,
        job_id uuid NOT NULL REFERENCES host_scan_jobs (id) ON DELETE CASCADE,
        PRIMARY KEY (batch_id, job_id)
      );
      CREATE INDEX host_scan_batch_jobs_job ON host_scan_batch_jobs (job_id);
    `,
  },
  {
    version: 7,
    name: 'pausing host scans',
    sql: `
      -- A running scan that is paused finishes; should its lease be lost or handed back, it waits Paused.
      ALTER TABLE host_scans ADD COLUMN pause_requested boolean NOT NULL DEFAULT false;
      -- A paused scan is still its host's active scan: scheduling the host again returns the paused job.
      DROP INDEX host_scans_one_active_per_host;
      CREATE UNIQUE INDEX host_scans_one_active_per_host ON host_scans (host_id) WHERE status IN (0, 1, 7);
    `,
  },
  {
    version: 8,
    name: 'recurring scan schedules and their firings',
    sql: `
      CREATE TABLE scan_schedules (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        cron text NOT NULL,
        time_zone text NOT NULL,
        -- Which hosts: these ids, or names matching a pattern, or all hosts (exactly one is set).
        host_ids uuid[],
        name_pattern text,
        all_hosts boolean NOT NULL DEFAULT false,
        enabled boolean NOT NULL DEFAULT true,
        -- Slots at or before this never fire (set at creation and when re-enabled).
        fire_after timestamptz NOT NULL DEFAULT now(),
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX scan_schedules_name_key ON scan_schedules (lower(name));
      -- One row per slot that fired: the primary key is the claim, written with the slot's jobs.
      CREATE TABLE scan_schedule_firings (
        schedule_id uuid NOT NULL REFERENCES scan_schedules (id) ON DELETE CASCADE,
        slot timestamptz NOT NULL,
        batch_id uuid,
        fired_by text NOT NULL,
        fired_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (schedule_id, slot)
      );
      ALTER TABLE host_scan_jobs ADD COLUMN schedule_id uuid;
      CREATE INDEX host_scan_jobs_schedule ON host_scan_jobs (schedule_id) WHERE schedule_id IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'users, applications and token signing keys',
    sql: `
      -- People who sign in. Secrets are never stored in the clear: password_hash is Argon2id (PHC text),
      -- totp_seed is sealed (AES-256-GCM) by the gateway before it reaches the database.
      CREATE TABLE gateway_users (
        id uuid PRIMARY KEY,
        login text NOT NULL,
        display_name text,
        password_hash text NOT NULL,
        roles jsonb NOT NULL,
        disabled boolean NOT NULL DEFAULT false,
        totp_seed text,
        totp_confirmed boolean NOT NULL DEFAULT false,
        totp_last_step bigint,
        -- Bumped whenever the user's live tokens must stop working (disabled, password reset, deleted).
        token_version integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX gateway_users_login_key ON gateway_users (lower(login));

      -- Application accounts: an API key (SHA-256 of 256 random bits) and its visible prefix.
      CREATE TABLE gateway_apps (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        roles jsonb NOT NULL,
        key_prefix text NOT NULL,
        key_hash text NOT NULL,
        disabled boolean NOT NULL DEFAULT false,
        token_version integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX gateway_apps_name_key ON gateway_apps (lower(name));

      -- The keys the gateway signs its own tokens with (ES256); the private key sealed by the gateway.
      CREATE TABLE gateway_signing_keys (
        kid text PRIMARY KEY,
        public_jwk jsonb NOT NULL,
        private_sealed text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 10,
    name: 'signing key rotation',
    sql: `
      -- A key is published from its creation, signs from signs_from, and stops verifying at retires_at
      -- (set when its successor is made: the successor's signs_from plus a token's lifetime and clock skew).
      ALTER TABLE gateway_signing_keys ADD COLUMN signs_from timestamptz;
      UPDATE gateway_signing_keys SET signs_from = created_at;
      ALTER TABLE gateway_signing_keys ALTER COLUMN signs_from SET NOT NULL;
      ALTER TABLE gateway_signing_keys ADD COLUMN retires_at timestamptz;
    `,
  },
  {
    version: 11,
    name: 'fair turns in the lease queue',
    sql: `
      -- Whose scan it is (the scheduling caller) and its turn: claims go by turn, so callers take turns
      -- (src/store/turns.ts) instead of one caller's large batch holding everyone else's scans back.
      ALTER TABLE host_scans ADD COLUMN lane text NOT NULL DEFAULT '';
      ALTER TABLE host_scans ADD COLUMN turn bigint NOT NULL DEFAULT 0;
      -- Scans waiting now keep their order (all at turn 0, by run_after) and join their caller's lane.
      UPDATE host_scans s SET lane = coalesce(j.created_by, '') FROM host_scan_jobs j
      WHERE j.id = s.job_id AND s.status IN (0, 1, 7);
      DROP INDEX host_scans_ready;
      CREATE INDEX host_scans_turns ON host_scans (turn, run_after) WHERE status = 0;
      CREATE INDEX host_scans_lanes ON host_scans (lane, turn) WHERE status = 0;
    `,
  },
  {
    version: 12,
    name: 'snapshot lists on the snapshot row',
    sql: `
      -- A snapshot's lists move into its row, one value each (src/store/snapshot-lists.ts): recording 211
      -- rows in five tables cost 5-6x a bare scan result. New rows hold them deflated; rows moved here hold
      -- plain JSON (SQL cannot deflate), which readers tell apart by the first byte.
      ALTER TABLE host_snapshots
        ADD COLUMN users bytea, ADD COLUMN groups bytea, ADD COLUMN services bytea, ADD COLUMN tasks bytea,
        ADD COLUMN user_count integer NOT NULL DEFAULT 0,
        ADD COLUMN changes jsonb NOT NULL DEFAULT '[]';
      UPDATE host_snapshots s SET
        users = convert_to(coalesce((SELECT json_agg(json_build_object(
            'name', u.name, 'unixId', coalesce(u.unix_id, -1), 'unixGroupId', coalesce(u.unix_group_id, -1),
            'displayName', coalesce(u.display_name, ''), 'homeDirectory', coalesce(u.home_directory, ''), 'shell', coalesce(u.shell, ''),
            'isDisabled', u.is_disabled, 'disabledReasons', u.disabled_reasons, 'privilege', u.privilege, 'privilegeReasons', u.privilege_reasons)
            ORDER BY u.name COLLATE "C") FROM snapshot_users u WHERE u.snapshot_id = s.id), '[]')::text, 'UTF8'),
        groups = convert_to(coalesce((SELECT json_agg(json_build_object(
            'name', g.name, 'unixId', coalesce(g.unix_id, -1), 'members', g.members)
            ORDER BY g.name COLLATE "C") FROM snapshot_groups g WHERE g.snapshot_id = s.id), '[]')::text, 'UTF8'),
        services = convert_to(coalesce((SELECT json_agg(json_build_object(
            'name', v.name, 'description', v.description, 'startType', v.start_type, 'unitFileState', v.unit_file_state,
            'userName', v.user_name, 'binaryPathName', v.binary_path_name)
            ORDER BY v.name COLLATE "C") FROM snapshot_services v WHERE v.snapshot_id = s.id), '[]')::text, 'UTF8'),
        tasks = convert_to(coalesce((SELECT json_agg(json_build_object(
            'name', t.name, 'source', t.source, 'taskPath', t.task_path, 'userName', t.user_name, 'schedule', t.schedule, 'command', t.command)
            ORDER BY t.task_path COLLATE "C", t.name COLLATE "C") FROM snapshot_tasks t WHERE t.snapshot_id = s.id), '[]')::text, 'UTF8'),
        user_count = (SELECT count(*) FROM snapshot_users u WHERE u.snapshot_id = s.id),
        changes = coalesce((SELECT jsonb_agg(jsonb_build_object(
            'kind', c.kind, 'subject', c.subject, 'privileged', c.privileged, 'before', c.before, 'after', c.after)
            ORDER BY c.position) FROM snapshot_changes c WHERE c.snapshot_id = s.id), '[]');
      ALTER TABLE host_snapshots
        ALTER COLUMN users SET NOT NULL, ALTER COLUMN groups SET NOT NULL,
        ALTER COLUMN services SET NOT NULL, ALTER COLUMN tasks SET NOT NULL,
        DROP COLUMN digest;
      -- A snapshot's deflated lists are a few kilobytes: kept in the row instead of being cut into TOAST
      -- chunks (rows in another table, each with its index entry) above the default 2 kB.
      ALTER TABLE host_snapshots SET (toast_tuple_target = 8160);
      -- Another instance's finished scans lead to their snapshots (inventoryChanges across instances).
      CREATE INDEX host_snapshots_scan ON host_snapshots (scan_id);

      -- Which host an account or group id belongs to, for GET /User/{id} and /Group/{id}: ids are name-based
      -- (src/inventory/ids.ts), so a row is written once per name a host ever had, not once per snapshot.
      CREATE TABLE inventory_names (
        id uuid PRIMARY KEY,
        host_id uuid NOT NULL REFERENCES hosts (id) ON DELETE CASCADE
      );
      CREATE INDEX inventory_names_host ON inventory_names (host_id);
      INSERT INTO inventory_names (id, host_id)
        SELECT u.id, s.host_id FROM snapshot_users u JOIN host_snapshots s ON s.id = u.snapshot_id
        UNION SELECT g.id, s.host_id FROM snapshot_groups g JOIN host_snapshots s ON s.id = g.snapshot_id
        ON CONFLICT (id) DO NOTHING;

      DROP TABLE snapshot_users, snapshot_groups, snapshot_services, snapshot_tasks, snapshot_changes;
    `,
  },
  {
    version: 13,
    name: 'the lease index serves only lease times',
    sql: `
      -- Statements that take scans by id (record results, renew or hand back leases) also ask for status
      -- Running, which the old predicate matched: with statistics behind the queue (Running rows come and go
      -- faster than autoanalyze follows) the planner took this index and walked every Running row for each
      -- statement instead of looking up the ids it was given. Only reclaiming expired leases asks about
      -- lease times, and its condition implies this predicate. Every way out of Running clears the lease.
      DROP INDEX host_scans_leases;
      CREATE INDEX host_scans_leases ON host_scans (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
    `,
  },
];

/** Apply pending migrations in one transaction under an advisory lock, so concurrent starts migrate once. */
export async function migrate(db: Sql): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('scan-gateway:migrate'))`);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const rows = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
  });
}
