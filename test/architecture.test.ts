import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The house rules that a reader of one file cannot see: checked over the whole source tree.

function sources(dir = 'src'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}
const outside = (folder: string) => sources().filter((f) => !relative('src', f).startsWith(`${folder}/`));
const offenders = (files: string[], pattern: RegExp) => files.filter((f) => pattern.test(readFileSync(f, 'utf8')));

describe('architecture', () => {
  it('only store/ speaks SQL', () => {
    expect(offenders(outside('store'), /\b(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM)\b/)).toEqual([]);
  });

  it('only store/ imports a database driver', () => {
    expect(offenders(outside('store'), /from '(pg|@electric-sql\/pglite[^']*)'/)).toEqual([]);
  });

  it('hooks named …ForTests are only passed along in src/, never called there', () => {
    // Such a hook (killing the store's thread) exists for tests to break things on purpose; production code
    // may forward it (`x: () => link.xForTests()`) but never act on it.
    const calls = sources().flatMap((f) =>
      readFileSync(f, 'utf8').split('\n').filter((l) => /\w+ForTests\(\)/.test(l) && !/^\s*(\w+ForTests(\(\): Promise<void>;|: \(\) => \w+\.\w+ForTests\(\),)|async \w+ForTests\(\))/.test(l)).map((l) => `${f}: ${l.trim()}`));
    expect(calls).toEqual([]);
  });

    it('only the entry points read process.env', () => {
    expect(offenders(sources().filter((f) => !/^src\/(main|cli\/.*)\.ts$/.test(f)), /process\.env/)).toEqual([]);
  });

  // DATABASE_URL may point at a transaction pooler (PgBouncer): consecutive transactions of one client run on
  // different server connections, so nothing may outlive a transaction on the connection it ran on.
  describe('store/ holds no session state on a pooled connection', () => {
    // The embedded store's worker owns its one connection (its session is the database's only one); the
    // pooler question does not arise there, and it prepares its statements on purpose.
    const pooled = sources('src/store').filter((f) => !/\/pglite(-worker)?\.ts$/.test(f));
    // A pattern per kind of session state, found in the text a statement may be written in.
    const sessionState: [string, RegExp][] = [
      ['session advisory lock (use pg_advisory_xact_lock)', /pg_(try_)?advisory_lock(_shared)?\s*\(/i],
      // A statement that begins with SET and is not SET LOCAL: `UPDATE … SET` and `ON DELETE SET NULL` do
      // not begin a statement (SET follows a word there, not a quote, backtick or semicolon).
      ['SET without LOCAL (use SET LOCAL)', /(^|[`'";])\s*SET\s+(?!LOCAL\b)/i],
      ['set_config at session level (third argument must be true)', /set_config\s*\([^)]*,\s*false\s*\)/i],
      ['named prepared statement in SQL', /\bPREPARE\s+\w+/],
      ['temporary table', /\bTEMP(ORARY)?\s+TABLE\b/i],
      ['cursor WITH HOLD', /\bWITH\s+HOLD\b/i],
    ];
    for (const [what, pattern] of sessionState) {
      it(`no ${what}`, () => {
        expect(pooled.length).toBeGreaterThan(10);
        expect(offenders(pooled, pattern)).toEqual([]);
      });
    }

    it('the pool runs named prepared statements only as DATABASE_PREPARED_STATEMENTS says (off behind a pooler)', () => {
      const calls = pooled.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/poolDb\(\w+, \{[^}]*\}\)/g)].map((m) => `${f}: ${m[0]}`));
      expect(calls).toEqual(['src/store/postgres.ts: poolDb(pool, { prepare: options.prepare ?? true, pipeline: true })']);
    });

    it('the patterns find what they look for', () => {
      const hits = (sql: string) => sessionState.filter(([, p]) => p.test(sql)).map(([what]) => what.split(' (')[0]);
      expect(hits("await tx.query(`SELECT pg_advisory_lock(hashtext('x'))`)")).toEqual(['session advisory lock']);
      expect(hits("await q.query(`SET TimeZone = 'UTC'`)")).toEqual(['SET without LOCAL']);
      expect(hits("await q.query('BEGIN; SET search_path = x')")).toEqual(['SET without LOCAL']);
      expect(hits("await q.query(`SET LOCAL TimeZone = 'UTC'`)")).toEqual([]);
      expect(hits('`UPDATE jobs\n       SET status = $1 WHERE id = $2`')).toEqual([]);
      expect(hits("'UPDATE jobs SET status = 1'")).toEqual([]);
      expect(hits('host_id uuid REFERENCES hosts (id) ON DELETE SET NULL')).toEqual([]);
    });
  });
});
