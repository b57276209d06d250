import { DEFAULT_LINE_LIMITS, textLines, type LineLimits, type Parsed } from './text';

export interface OsRelease {
  os: string | null;
  version: string | null;
}

/**
 * OS name and version from os-release(5) text: `NAME` and `VERSION_ID` as written, falling back to
 * `PRETTY_NAME` for the name and `VERSION` for the version. Values follow the file's shell-like quoting.
 */
export function parseOsRelease(text: string, limits: LineLimits = DEFAULT_LINE_LIMITS): Parsed<OsRelease> {
  const { value: lines, problems } = textLines(text, 'os-release', limits);
  const fields = new Map<string, string>();
  for (const line of lines) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) fields.set(m[1]!, unquote(m[2]!.trim()));
  }
  const pick = (...keys: string[]) => keys.map((k) => fields.get(k)).find((v) => v !== undefined && v !== '') ?? null;
  const value = { os: pick('NAME', 'PRETTY_NAME'), version: pick('VERSION_ID', 'VERSION') };
  if (value.os === null && text.trim() !== '') problems.push('os-release: no NAME or PRETTY_NAME in it');
  return { value, problems };
}

// os-release(5): "Variable assignment values must be enclosed in double or single quotes if they include
// spaces, semicolons or other special characters outside of A–Z, a–z, 0–9"; backslash escapes the
// shell's special characters inside double quotes.
function unquote(raw: string): string {
  const q = raw[0];
  if ((q === '"' || q === "'") && raw.length >= 2 && raw.endsWith(q)) {
    const inner = raw.slice(1, -1);
    return q === '"' ? inner.replace(/\\([\\$"`])/g, '$1') : inner;
  }
  return raw;
}
