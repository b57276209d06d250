/** What the store CLIs share: the data directory, URLs without their passwords, failing with a message. */

export const dataDirOf = (flag: string | undefined): string => flag ?? process.env.DATA_DIR ?? './data';

/** `url` with any password replaced, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(a URL that does not parse)';
  }
}

/** Run a CLI's main: its error's message on stderr and exit status 2 when it fails; never a password. */
export function run(main: () => Promise<void>, secrets: () => string[] = () => []): void {
  main().catch((err: unknown) => {
    let message = err instanceof Error ? err.message : String(err);
    for (const secret of secrets()) if (secret) message = message.split(secret).join('***');
    process.stderr.write(`${message}\n`);
    process.exit(2);
  });
}
