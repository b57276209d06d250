import { logicalLines, tokenize, Tokens } from './sudoers-tokens';
import { baseName, cut, plural, type FileLine, type Parsed } from './text';

/**
 * Who a sudoers rule names. Lists are matched in order and the last item that matches decides, as
 * sudoers(5) says; an alias matches when its own list does.
 */
export type SudoSubject =
  | { negated: boolean; kind: 'all' }
  | { negated: boolean; kind: 'user' | 'group'; name: string }
  | { negated: boolean; kind: 'uid' | 'gid'; id: number }
  | { negated: boolean; kind: 'alias'; name: string; items: SudoSubject[] }
  /** Netgroups (`+ng`) and non-Unix groups (`%:grp`): not resolved here, so they never match. */
  | { negated: boolean; kind: 'unresolved'; text: string };

/** A rule that lets its subjects run every command as root. */
export interface SudoGrant {
  subjects: SudoSubject[];
  /** The rule as written, white space collapsed and cut to 200 characters, for the privilege reasons. */
  rule: string;
  file: string;
}

export const SUDOERS = '/etc/sudoers';
export const SUDOERS_D = '/etc/sudoers.d';

const ALIAS_KINDS = new Set(['User_Alias', 'Runas_Alias', 'Host_Alias', 'Cmnd_Alias', 'Cmd_Alias']);
const TAGS = new Set([
  'NOPASSWD', 'PASSWD', 'NOEXEC', 'EXEC', 'SETENV', 'NOSETENV', 'LOG_INPUT', 'NOLOG_INPUT', 'LOG_OUTPUT',
  'NOLOG_OUTPUT', 'MAIL', 'NOMAIL', 'FOLLOW', 'NOFOLLOW', 'INTERCEPT', 'NOINTERCEPT',
]);
const OPTIONS = new Set(['ROLE', 'TYPE', 'APPARMOR_PROFILE', 'PRIVS', 'LIMITPRIVS', 'CWD', 'CHROOT', 'NOTBEFORE', 'NOTAFTER', 'TIMEOUT']);
const DIGESTS = new Set(['sha224', 'sha256', 'sha384', 'sha512']);
const MAX_ALIAS_DEPTH = 8;
// Bounds the work of matching every user against every grant (users × nodes).
const MAX_SUBJECT_NODES = 2000;

interface Item {
  negated: boolean;
  word: string;
}
type Aliases = Map<string, Item[]>;

/**
 * The rules in /etc/sudoers and /etc/sudoers.d that grant ALL commands as root (runas omitted, `ALL`,
 * `root` or `#0`), from `grep -H -Z` lines of those files. Files in /etc/sudoers.d count as sudo reads
 * them: only when /etc/sudoers includes the directory (or was not readable), and only names without a
 * `.` or a trailing `~`. Host lists are not evaluated (any host counts), `Defaults` lines are passed over,
 * and includes of other paths are reported, not followed.
 */
export function parseSudoers(lines: FileLine[]): Parsed<SudoGrant[]> {
  const problems: string[] = [];
  const files = byFile(lines);
  const main = files.get(SUDOERS);
  const aliases: Aliases = new Map();
  const specs: { file: string; line: string }[] = [];
  let includesDir = main === undefined;
  for (const [file, physical] of files) {
    if (file !== SUDOERS && !activeDropIn(file)) continue;
    if (file !== SUDOERS && !includesDir) {
      problems.push(`sudoers: ${file} is ignored because /etc/sudoers does not include ${SUDOERS_D}`);
      continue;
    }
    for (const line of logicalLines(physical)) {
      const include = /^[#@](include|includedir)\s+(.+)$/.exec(line);
      if (include) {
        const target = resolveInclude(include[2]!.trim(), file);
        if (target === SUDOERS_D || target.startsWith(`${SUDOERS_D}/`)) includesDir = true;
        else problems.push(`sudoers: ${file} includes ${target}, which was not read`);
      } else if (/^Defaults([@:!>\s]|$)/.test(line)) {
        continue;
      } else if (ALIAS_KINDS.has(line.split(/\s/, 1)[0]!)) {
        if (!readAliases(line, aliases)) problems.push(`sudoers: an alias definition in ${file} could not be parsed`);
      } else {
        specs.push({ file, line });
      }
    }
  }
  const grants: SudoGrant[] = [];
  const judge = {
    isAll: new Expander(aliases, (w) => w === 'ALL'),
    isRoot: new Expander(aliases, (w) => w === 'ALL' || w === 'root' || w === '#0'),
  };
  const subjects = new SubjectBuilder(aliases);
  let unparsed = 0;
  for (const { file, line } of specs) {
    const spec = readSpec(line, judge);
    if (spec === null) unparsed++;
    else if (spec.grantsAll) grants.push({ subjects: spec.users.map((item) => subjects.build(item)), rule: cut(line.replace(/\s+/g, ' '), 200), file });
  }
  if (unparsed) problems.push(`sudoers: ${unparsed} ${plural(unparsed, 'rule')} could not be parsed and were not evaluated`);
  if (subjects.unresolved) problems.push('sudoers: netgroup (+name) and non-Unix group (%:name) entries are not resolved');
  if (subjects.exhausted) problems.push('sudoers: user aliases nest too deeply or widely; only part of them was expanded');
  return { value: grants, problems };
}

function byFile(lines: FileLine[]): Map<string, string[]> {
  const files = new Map<string, string[]>();
  for (const { path, line } of lines) {
    let list = files.get(path);
    if (!list) files.set(path, (list = []));
    list.push(line);
  }
  // sudo reads /etc/sudoers first and an included directory's files in lexical order.
  return new Map([...files].sort(([a], [b]) => (a === SUDOERS ? -1 : b === SUDOERS ? 1 : a < b ? -1 : a > b ? 1 : 0)));
}

// sudoers(5) @includedir: "files whose names end in '~' or contain a '.' character are skipped".
function activeDropIn(file: string): boolean {
  const name = baseName(file);
  return file === `${SUDOERS_D}/${name}` && !name.includes('.') && !name.endsWith('~');
}

// Relative include paths are relative to the including file's directory (sudo 1.9.1).
function resolveInclude(path: string, from: string): string {
  const clean = path.replace(/\/+$/, '');
  return clean.startsWith('/') ? clean : `${from.slice(0, from.lastIndexOf('/'))}/${clean}`;
}

/** `Kind NAME = item, item : NAME2 = item`. Each item keeps only its first word (a command's name). */
function readAliases(line: string, aliases: Aliases): boolean {
  const t = new Tokens(tokenize(line));
  t.word();
  do {
    const name = t.word();
    if (name === null || !t.take('=')) return false;
    const items = readList(t, true);
    if (items === null) return false;
    aliases.set(name, items);
  } while (t.take(':'));
  return t.done;
}

/** A comma list of (`!`)* word, each item's extra words (command arguments) skipped when `withArgs`. */
function readList(t: Tokens, withArgs: boolean): Item[] | null {
  const items: Item[] = [];
  do {
    let negated = false;
    while (t.take('!')) negated = !negated;
    const word = t.word();
    if (word === null) return null;
    if (withArgs) while (t.peek()?.kind === 'word') t.next();
    items.push({ negated, word });
  } while (t.take(','));
  return items;
}

/** `users hosts = cmnd_spec_list (: hosts = cmnd_spec_list)*`; whether some command is ALL as root. */
function readSpec(line: string, judge: { isAll: Expander; isRoot: Expander }): { users: Item[]; grantsAll: boolean } | null {
  const t = new Tokens(tokenize(line));
  const users = readList(t, false);
  if (users === null) return null;
  let grantsAll = false;
  do {
    if (readList(t, false) === null || !t.take('=')) return null;
    let asRoot = true; // a spec without a runas list runs as root
    do {
      if (t.take('(')) {
        const runas = readRunas(t);
        if (runas === null) return null;
        asRoot = runas.some((item) => !item.negated && judge.isRoot.has(item.word));
      }
      skipTagsAndOptions(t);
      let negated = false;
      while (t.take('!')) negated = !negated;
      const command = t.word();
      if (command === null) return null;
      while (t.peek()?.kind === 'word') t.next();
      if (asRoot && !negated && judge.isAll.has(command)) grantsAll = true;
    } while (t.take(','));
  } while (t.take(':'));
  return t.done ? { users, grantsAll } : null;
}

/** After `(`: `users[:groups])`. Only the user part decides whether commands run as root. */
function readRunas(t: Tokens): Item[] | null {
  const users = t.peek()?.kind === 'word' || t.peek()?.kind === '!' ? readList(t, false) : [];
  if (users === null) return null;
  if (t.take(':') && t.peek()?.kind !== ')' && readList(t, false) === null) return null;
  return t.take(')') ? users : null;
}

function skipTagsAndOptions(t: Tokens): void {
  for (;;) {
    const w = t.peek();
    if (w?.kind !== 'word') return;
    const after = t.peek(1)?.kind;
    if (after === ':' && (TAGS.has(w.text) || DIGESTS.has(w.text))) {
      t.next();
      t.next();
      if (DIGESTS.has(w.text)) t.word(); // the digest itself; the command follows
    } else if (after === '=' && OPTIONS.has(w.text)) {
      t.next();
      t.next();
      t.word();
    } else {
      return;
    }
  }
}

/**
 * Answers "does this word, or an alias it names, contain an item `test` accepts" once per word: alias
 * lists may name each other many times over, and a host must not be able to make that exponential.
 */
class Expander {
  private readonly memo = new Map<string, boolean>();
  private readonly visiting = new Set<string>();
  constructor(private readonly aliases: Aliases, private readonly test: (word: string) => boolean) {}
  has(word: string): boolean {
    if (this.test(word)) return true;
    const known = this.memo.get(word);
    if (known !== undefined) return known;
    const items = this.aliases.get(word);
    if (!items || this.visiting.has(word)) return false;
    this.visiting.add(word);
    const found = items.some((item) => !item.negated && this.has(item.word));
    this.visiting.delete(word);
    this.memo.set(word, found);
    return found;
  }
}

/** Builds subjects with a budget of nodes, so alias lists that name each other widely stay bounded. */
class SubjectBuilder {
  private budget = MAX_SUBJECT_NODES;
  exhausted = false;
  unresolved = false;
  constructor(private readonly aliases: Aliases) {}
  build(item: Item, depth = 0): SudoSubject {
    const { negated, word } = item;
    if (word === 'ALL') return { negated, kind: 'all' };
    const alias = aliases(this.aliases, word);
    if (alias) {
      const items: SudoSubject[] = [];
      for (const i of alias) {
        if (depth >= MAX_ALIAS_DEPTH || --this.budget < 0) {
          this.exhausted = true;
          break;
        }
        items.push(this.build(i, depth + 1));
      }
      return { negated, kind: 'alias', name: word, items };
    }
    if (word.startsWith('%:') || word.startsWith('+')) {
      this.unresolved = true;
      return { negated, kind: 'unresolved', text: word };
    }
    if (/^%#\d+$/.test(word)) return { negated, kind: 'gid', id: Number(word.slice(2)) };
    if (word.startsWith('%')) return { negated, kind: 'group', name: word.slice(1) };
    if (/^#\d+$/.test(word)) return { negated, kind: 'uid', id: Number(word.slice(1)) };
    return { negated, kind: 'user', name: word };
  }
}

// Alias names are upper case (sudoers(5): "[A-Z]([A-Z][0-9]_)*"); a lower-case word is a user name.
function aliases(book: Aliases, word: string): Item[] | undefined {
  return /^[A-Z][A-Z0-9_]*$/.test(word) ? book.get(word) : undefined;
}
