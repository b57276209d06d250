/** A connection URL fit for logs, readiness and metrics: no password, no query (it may carry one too). */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    url.search = '';
    return url.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
