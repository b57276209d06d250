/**
 * The lexical layer of sudoers(5): logical lines (continuations joined, comments removed) and tokens.
 * The grammar requires `! = : , ( ) \` to be backslash-escaped inside a word, so a bare one is always
 * punctuation; double quotes make one word of what is between them.
 */

export type Token = { kind: 'word'; text: string } | { kind: '(' | ')' | ',' | ':' | '=' | '!' };

/** Joins `\`-continued lines and drops comments and blank lines. `#include…` lines are kept. */
export function logicalLines(physical: string[]): string[] {
  const out: string[] = [];
  let pending = '';
  for (const line of physical) {
    if (line.endsWith('\\') && !line.endsWith('\\\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const joined = stripComment(pending + line).trim();
    pending = '';
    if (joined) out.push(joined);
  }
  const last = stripComment(pending).trim();
  if (last) out.push(last);
  return out;
}

// A `#` starts a comment unless it begins `#include`/`#includedir` or a uid (`#1000`, `%#100`), or sits
// inside a word or a quoted string.
function stripComment(line: string): string {
  if (/^\s*#include(dir)?\s/.test(line)) return line;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\') {
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === '#' && !quoted && (i === 0 || /\s/.test(line[i - 1]!)) && !/\d/.test(line[i + 1] ?? '')) {
      return line.slice(0, i);
    }
  }
  return line;
}

const PUNCT = new Set(['(', ')', ',', ':', '=', '!']);

/** Tokens of one logical line. */
export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let word: string | null = null;
  const flush = () => {
    if (word !== null) tokens.push({ kind: 'word', text: word });
    word = null;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (c === '"') {
      const close = line.indexOf('"', i + 1);
      const end = close < 0 ? line.length : close;
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ':' && word === '%') {
      word += c; // `%:group`, a non-Unix group
    } else if (/\s/.test(c)) {
      flush();
    } else if (PUNCT.has(c)) {
      flush();
      tokens.push({ kind: c as '(' | ')' | ',' | ':' | '=' | '!' });
    } else {
      word = (word ?? '') + c;
    }
  }
  flush();
  return tokens;
}

/** A cursor over one line's tokens. */
export class Tokens {
  private i = 0;
  constructor(private readonly list: Token[]) {}
  peek(ahead = 0): Token | undefined {
    return this.list[this.i + ahead];
  }
  next(): Token | undefined {
    return this.list[this.i++];
  }
  /** Consumes the next token when it is `kind`. */
  take(kind: Token['kind']): boolean {
    if (this.list[this.i]?.kind !== kind) return false;
    this.i++;
    return true;
  }
  word(): string | null {
    const t = this.list[this.i];
    if (t?.kind !== 'word') return null;
    this.i++;
    return t.text;
  }
  get done(): boolean {
    return this.i >= this.list.length;
  }
}
