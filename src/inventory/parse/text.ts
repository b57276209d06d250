/**
 * Bounded text handling shared by the parsers. A host may send anything: invalid UTF-8, NUL bytes,
 * terminal escapes, one line of megabytes. Everything leaving here is a well-formed string without
 * control characters (a NUL would be refused by a PostgreSQL text column), in a bounded number of lines.
 */

/** What a parser found wrong with its input, in words; each becomes a snapshot note. */
export interface Parsed<T> {
  value: T;
  problems: string[];
}

export interface LineLimits {
  /** Lines past this many are not looked at. */
  maxLines: number;
  /** Longer lines are dropped whole: a cut line would be misread as a shorter, different record. */
  maxLineLength: number;
}

export const DEFAULT_LINE_LIMITS: LineLimits = { maxLines: 20_000, maxLineLength: 8192 };

const decoder = new TextDecoder('utf-8', { fatal: false });

/** UTF-8 to text; invalid sequences become U+FFFD rather than an exception. */
export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

// C0 controls except tab, DEL and the C1 controls: a terminal or a log viewer would act on them.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/** Replaces control characters (NUL included) with U+FFFD. */
export function clean(text: string): string {
  return text.replace(CONTROL, '\uFFFD');
}

export interface SplitLines {
  lines: string[];
  /** Lines not returned because `maxLines` was reached. */
  linesCut: number;
  /** Lines dropped for being longer than `maxLineLength`. */
  overlong: number;
}

/** Splits raw text into at most `maxLines` lines (a final `\r` removed), not yet cleaned. */
export function splitLines(text: string, limits: LineLimits): SplitLines {
  const lines: string[] = [];
  let linesCut = 0;
  let overlong = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (lines.length >= limits.maxLines) {
      linesCut++;
    } else if (end - start > limits.maxLineLength) {
      overlong++;
    } else {
      let line = text.slice(start, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      lines.push(line);
    }
    start = end + 1;
  }
  return { lines, linesCut, overlong };
}

/** Cleaned lines of one file's text, and the problems met on the way phrased for `what` (e.g. `/etc/passwd`). */
export function textLines(text: string, what: string, limits: LineLimits): Parsed<string[]> {
  const split = splitLines(text, limits);
  return { value: split.lines.map(clean), problems: limitProblems(what, split, limits) };
}

/** One line of `grep -H -Z` output: the file it came from and the line's text. */
export interface FileLine {
  path: string;
  line: string;
}

/**
 * Lines of `grep -r -H -Z -a` output (`path NUL line`). The path ends at the first NUL, which grep writes
 * itself; a file's content cannot move a line into another file's record because a line never spans
 * a newline. Lines without a NUL are not grep records and are dropped (counted as a problem).
 */
export function fileLines(text: string, what: string, limits: LineLimits): Parsed<FileLine[]> {
  const split = splitLines(text, limits);
  const problems = limitProblems(what, split, limits);
  const value: FileLine[] = [];
  let unframed = 0;
  for (const raw of split.lines) {
    const nul = raw.indexOf('\0');
    if (nul <= 0) {
      if (raw.length > 0) unframed++;
      continue;
    }
    value.push({ path: clean(raw.slice(0, nul)), line: clean(raw.slice(nul + 1)) });
  }
  if (unframed) problems.push(`${what}: ${unframed} output ${plural(unframed, 'line')} without a file name were ignored`);
  return { value, problems };
}

function limitProblems(what: string, split: SplitLines, limits: LineLimits): string[] {
  const problems: string[] = [];
  if (split.linesCut) problems.push(`${what}: only the first ${limits.maxLines} lines were read; ${split.linesCut} more were left out`);
  if (split.overlong) problems.push(`${what}: ${split.overlong} ${plural(split.overlong, 'line')} longer than ${limits.maxLineLength} characters were skipped`);
  return problems;
}

/** `1 line`, `2 lines`. */
export function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/** The last path component. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The text cut to `max` characters, with an ellipsis when cut. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
