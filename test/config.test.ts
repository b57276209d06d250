import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';

const SECRET = 'x'.repeat(32);
const PG = 'postgres://u:pw@127.0.0.1:5432/db';

describe('loadConfig', () => {
  it('applies the operator contract defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 6500, host: '0.0.0.0', dataDir: './data', databaseUrl: null, databasePoolSize: 10, hostsFile: null, jwtSecret: null, jwtPublicKey: null,
      jwtIssuer: null, jwtAudience: null, scanConcurrency: 256, scanTimeoutMs: 30_000, maxHostIds: 1000, production: false,
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(c).toMatchObject({ batchProgressIntervalMs: 250, scheduleTickMs: 5_000, scheduleCatchUp: true, jobRetentionDays: 0 });
    expect(loadConfig({ SCHEDULE_CATCH_UP: 'false', JOB_RETENTION_DAYS: '30' })).toMatchObject({ scheduleCatchUp: false, jobRetentionDays: 30 });
    expect(c.tokenKeyRotateMs).toBe(30 * 86_400_000);
    expect(loadConfig({ TOKEN_KEY_ROTATE_DAYS: '0' }).tokenKeyRotateMs).toBe(0);
    expect(loadConfig({ TOKEN_KEY_ROTATE_DAYS: '0.5' }).tokenKeyRotateMs).toBe(43_200_000);
    expect(c.inventorySnapshotsKept).toBe(10);
    expect(loadConfig({ INVENTORY_SNAPSHOTS_KEPT: '1' }).inventorySnapshotsKept).toBe(1);
    expect(loadConfig({ INVENTORY_SNAPSHOTS_KEPT: '1000' }).inventorySnapshotsKept).toBe(1000);
  });

  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '7000', HOST: '127.0.0.1', DATA_DIR: '/tmp/d', DATABASE_URL: 'postgres://u@127.0.0.1:5432/db', DATABASE_POOL_SIZE: '25', HOSTS_FILE: '/tmp/h.json',
      JWT_SECRET: SECRET, JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud', SCAN_CONCURRENCY: '4', SCAN_TIMEOUT_MS: '500', MAX_HOST_IDS: '10',
    });
    expect(c).toMatchObject({ port: 7000, host: '127.0.0.1', dataDir: '/tmp/d', databaseUrl: 'postgres://u@127.0.0.1:5432/db', databasePoolSize: 25,
      hostsFile: '/tmp/h.json', jwtIssuer: 'iss', jwtAudience: 'aud', scanConcurrency: 4, scanTimeoutMs: 500, maxHostIds: 10 });
    expect(c.jwtSecret?.toString()).toBe(SECRET);
  });

  it('reads the event path settings', () => {
    expect(loadConfig({}).events).toEqual({ url: null, checkMs: 10_000, pollMs: 1_000 });
    const listen = loadConfig({ DATABASE_URL: PG, DATABASE_LISTEN_URL: 'postgres://u@10.0.0.5:5432/db' });
    expect(listen.databaseListenUrl).toBe('postgres://u@10.0.0.5:5432/db');
    expect(listen.databasePreparedStatements).toBe(true);
    expect(loadConfig({ DATABASE_URL: PG, DATABASE_PREPARED_STATEMENTS: 'false' }).databasePreparedStatements).toBe(false);
    expect(() => loadConfig({ DATABASE_URL: PG, DATABASE_PREPARED_STATEMENTS: 'off' })).toThrow(/DATABASE_PREPARED_STATEMENTS.*must be true or false/);
    const nats = loadConfig({ DATABASE_URL: PG, EVENTS_URL: 'nats://127.0.0.1:4222', EVENTS_CHECK_MS: '500', EVENTS_POLL_MS: '250' });
    expect(nats.events).toEqual({ url: 'nats://127.0.0.1:4222', checkMs: 500, pollMs: 250 });
    expect(loadConfig({ DATABASE_URL: PG, EVENTS_URL: 'rediss://:pw@127.0.0.1:6380' }).events.url).toBe('rediss://:pw@127.0.0.1:6380');
  });

  const bad: [string, Record<string, string>, string][] = [
    ['PORT not a number', { PORT: 'http' }, 'PORT'],
    ['PORT out of range', { PORT: '70000' }, 'PORT'],
    ['SCAN_CONCURRENCY zero', { SCAN_CONCURRENCY: '0' }, 'SCAN_CONCURRENCY'],
    ['SCAN_TIMEOUT_MS negative', { SCAN_TIMEOUT_MS: '-5' }, 'SCAN_TIMEOUT_MS'],
    ['MAX_HOST_IDS fractional', { MAX_HOST_IDS: '1.5' }, 'MAX_HOST_IDS'],
    ['a short JWT_SECRET', { JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['both keys', { JWT_SECRET: SECRET, JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----' }, 'JWT_SECRET'],
    ['a JWT_PUBLIC_KEY that is neither PEM nor a file', { JWT_PUBLIC_KEY: '/no/such/key.pem' }, 'JWT_PUBLIC_KEY'],
    ['DATABASE_POOL_SIZE zero', { DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    ['DATABASE_URL not a URL', { DATABASE_URL: 'localhost:5432' }, 'DATABASE_URL'],
    ['DATABASE_URL another scheme', { DATABASE_URL: 'mysql://root@127.0.0.1/db' }, 'DATABASE_URL'],
    ['DATABASE_LISTEN_URL without DATABASE_URL', { DATABASE_LISTEN_URL: 'postgres://u@127.0.0.1/db' }, 'DATABASE_LISTEN_URL'],
    ['DATABASE_LISTEN_URL another scheme', { DATABASE_URL: PG, DATABASE_LISTEN_URL: 'redis://127.0.0.1' }, 'DATABASE_LISTEN_URL'],
    ['EVENTS_URL without DATABASE_URL', { EVENTS_URL: 'nats://127.0.0.1:4222' }, 'EVENTS_URL'],
    ['EVENTS_URL another scheme', { DATABASE_URL: PG, EVENTS_URL: 'amqp://guest:guest@127.0.0.1' }, 'EVENTS_URL'],
    ['EVENTS_URL not a URL', { DATABASE_URL: PG, EVENTS_URL: '127.0.0.1:4222' }, 'EVENTS_URL'],
    ['EVENTS_URL beside DATABASE_LISTEN_URL', { DATABASE_URL: PG, DATABASE_LISTEN_URL: PG, EVENTS_URL: 'redis://127.0.0.1' }, 'DATABASE_LISTEN_URL'],
    ['EVENTS_POLL_MS too small', { EVENTS_POLL_MS: '5' }, 'EVENTS_POLL_MS'],
    ['production without a key', { NODE_ENV: 'production' }, 'JWT_SECRET'],
    ['production without an issuer', { NODE_ENV: 'production', JWT_SECRET: SECRET, JWT_AUDIENCE: 'a' }, 'JWT_ISSUER'],
    ['production without an audience', { NODE_ENV: 'production', JWT_SECRET: SECRET, JWT_ISSUER: 'i' }, 'JWT_AUDIENCE'],
    ['an unknown LOG_LEVEL', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['TOKEN_KEY_ROTATE_DAYS not a number', { TOKEN_KEY_ROTATE_DAYS: '30d' }, 'TOKEN_KEY_ROTATE_DAYS'],
    ['TOKEN_KEY_ROTATE_DAYS negative', { TOKEN_KEY_ROTATE_DAYS: '-1' }, 'TOKEN_KEY_ROTATE_DAYS'],
    ['TOKEN_KEY_ROTATE_DAYS too short to publish ahead', { TOKEN_KEY_ROTATE_DAYS: '0.0001' }, 'TOKEN_KEY_ROTATE_DAYS'],
    ['TOKEN_KEY_ROTATE_DAYS over ten years', { TOKEN_KEY_ROTATE_DAYS: '3651' }, 'TOKEN_KEY_ROTATE_DAYS'],
    ['SCHEDULE_CATCH_UP not a boolean', { SCHEDULE_CATCH_UP: 'sometimes' }, 'SCHEDULE_CATCH_UP'],
    ['SCHEDULE_TICK_MS too short', { SCHEDULE_TICK_MS: '10' }, 'SCHEDULE_TICK_MS'],
    ['JOB_RETENTION_DAYS negative', { JOB_RETENTION_DAYS: '-1' }, 'JOB_RETENTION_DAYS'],
    ['BATCH_PROGRESS_INTERVAL_MS too short', { BATCH_PROGRESS_INTERVAL_MS: '1' }, 'BATCH_PROGRESS_INTERVAL_MS'],
    ['INVENTORY_SNAPSHOTS_KEPT zero', { INVENTORY_SNAPSHOTS_KEPT: '0' }, 'INVENTORY_SNAPSHOTS_KEPT'],
    ['INVENTORY_SNAPSHOTS_KEPT over 1000', { INVENTORY_SNAPSHOTS_KEPT: '1001' }, 'INVENTORY_SNAPSHOTS_KEPT'],
    ['INVENTORY_SNAPSHOTS_KEPT fractional', { INVENTORY_SNAPSHOTS_KEPT: '2.5' }, 'INVENTORY_SNAPSHOTS_KEPT'],
    ['INVENTORY_SNAPSHOTS_KEPT not a number', { INVENTORY_SNAPSHOTS_KEPT: 'all' }, 'INVENTORY_SNAPSHOTS_KEPT'],
  ];
  it.each(bad)('%s → ConfigError naming %s', (_name, env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message.startsWith(variable)).toBe(true);
    if (env.JWT_SECRET) expect((error as Error).message).not.toContain(env.JWT_SECRET);
    expect((error as Error).message).not.toMatch(/:pw@|guest:guest/);
  });

  it('says what INVENTORY_SNAPSHOTS_KEPT takes', () => {
    expect(() => loadConfig({ INVENTORY_SNAPSHOTS_KEPT: '0' })).toThrow('INVENTORY_SNAPSHOTS_KEPT must be a whole number from 1 to 1000 (got "0").');
  });
});
