import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { binaryAvailable, startDaemon } from './daemon';
import { freePort } from './listeners';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

export const pgbouncerAvailable = () => binaryAvailable(PGBOUNCER, 'pgbouncer');

/**
 * Debian's PgBouncer on a free loopback port in transaction pooling mode, in front of the PostgreSQL at
 * `adminUrl` (trust authentication, as on the test machines). Returns URLs that go through it.
 */
export async function startPgbouncer(adminUrl: string) {
  const target = new URL(adminUrl);
  const dir = mkdtempSync(join(tmpdir(), 'scan-gateway-pgbouncer-'));
  const port = await freePort();
  const user = decodeURIComponent(target.username || 'postgres');
  writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`);
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `* = host=${target.hostname} port=${target.port || 5432}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = transaction',
    'max_client_conn = 500',
    'default_pool_size = 40',
    'server_reset_query =',
  ].join('\n'));
  // PgBouncer refuses to run as root: as root, run it as the postgres user.
  const asRoot = userInfo().uid === 0;
  const ids = asRoot ? postgresIds() : null;
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const daemon = await startDaemon(PGBOUNCER, [join(dir, 'pgbouncer.ini')], port, ids ?? {});
  const through = (database: string) => {
    const url = new URL(adminUrl);
    url.host = `127.0.0.1:${port}`;
    url.pathname = `/${database}`;
    return url.toString();
  };
  return {
    port,
    /** A URL for `database` through the pooler. */
    through,
    output: daemon.output,
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l: string) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user to run PgBouncer as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
