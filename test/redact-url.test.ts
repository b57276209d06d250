import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/redact-url';

const SECRET = 'never-shown-51d0';

describe('redactUrl', () => {
  it('masks the password and keeps what tells the connection apart', () => {
    const shown = redactUrl(`postgres://gateway:${SECRET}@db.internal:5432/scans`);
    expect(shown).toBe('postgres://gateway:***@db.internal:5432/scans');
  });

  it('drops the query string, which may carry a password or a key too', () => {
    for (const raw of [
      `postgres://db.internal/scans?password=${SECRET}`,
      `postgres://gateway@db.internal/scans?sslmode=require&sslkey=/k&sslpassword=${SECRET}`,
      `rediss://:${SECRET}@cache.internal:6380/0?password=${SECRET}`,
      `nats://scan:${SECRET}@127.0.0.1:4222?token=${SECRET}`,
    ]) {
      const shown = redactUrl(raw);
      expect(shown).not.toContain(SECRET);
      expect(shown).not.toContain('?');
    }
    expect(redactUrl(`nats://scan:${SECRET}@127.0.0.1:4222?token=${SECRET}`)).toBe('nats://scan:***@127.0.0.1:4222');
  });

  it('leaves a URL without secrets as it is, and shows nothing of one it cannot parse', () => {
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl(`not a url ${SECRET}`)).toBe('(an unparsable URL)');
  });
});
