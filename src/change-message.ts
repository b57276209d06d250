/** A job that changed, and its revision after the change (null from an announcement that carried none). */
export interface JobChange {
  readonly id: string;
  readonly revision: number | null;
}

// Payloads must stay under NOTIFY's 8000 bytes: 100 changes take about 4.5 kB.
export const CHANGES_PER_MESSAGE = 100;

/**
 * The one wire form of change announcements, on every transport: `<origin> <id>:<revision>,…`. The origin
 * lets a process skip its own; the revision lets a reader skip states it already has. Ids without a
 * revision are accepted too (announcements of older versions).
 */
export function encodeChanges(origin: string, changes: readonly JobChange[]): string[] {
  const messages: string[] = [];
  for (let i = 0; i < changes.length; i += CHANGES_PER_MESSAGE) {
    const part = changes.slice(i, i + CHANGES_PER_MESSAGE);
    messages.push(`${origin} ${part.map((c) => (c.revision === null ? c.id : `${c.id}:${c.revision}`)).join(',')}`);
  }
  return messages;
}

/** The origin and changes of a message, or null when it is not one. */
export function decodeChanges(message: string): { origin: string; changes: JobChange[] } | null {
  const space = message.indexOf(' ');
  if (space <= 0) return null;
  const changes: JobChange[] = [];
  for (const item of message.slice(space + 1).split(',')) {
    const [id, revision] = item.split(':');
    if (!id || !UUID.test(id)) continue;
    const n = revision === undefined ? null : Number(revision);
    changes.push({ id, revision: n !== null && Number.isSafeInteger(n) ? n : null });
  }
  return { origin: message.slice(0, space), changes };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A probe: `<origin> <token>`; only the process that sent it acts on it. */
export const encodeProbe = (origin: string, token: string) => `${origin} ${token}`;

export function decodeProbe(message: string, origin: string): string | null {
  const space = message.indexOf(' ');
  return space > 0 && message.slice(0, space) === origin ? message.slice(space + 1) : null;
}
