/** A minimal cookie jar for fetch: keeps what Set-Cookie sets (and drops what it expires), sends it back. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** Take the cookies a response sets. */
  take(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(eq + 1).trim());
    }
  }

  /** The Cookie header to send, or nothing when the jar is empty. */
  header(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }
}
