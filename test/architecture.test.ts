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

  it('only the entry points read process.env', () => {
    expect(offenders(sources().filter((f) => !/^src\/(main|cli\/.*)\.ts$/.test(f)), /process\.env/)).toEqual([]);
  });
});
