import type { ListeningDb, Queryable } from './db';

/** The NOTIFY channel on which accounts' token versions are announced, as `<account id> <version>`. */
export const ACCOUNT_CHANNEL = 'scan_gateway_accounts';

/** Told when an account's token version changes on any instance (-1: none of its tokens is honoured). */
export interface AccountChangeListener {
  onChange(subject: string, version: number): void;
  /** Listening resumed after a loss: changes may have gone unheard; read them all again. */
  onReconnect?(): void;
}

/** Hear token version changes that any instance commits (PostgreSQL). */
export interface AccountChanges {
  listen(listener: AccountChangeListener): Promise<() => Promise<void>>;
}

/** Announce an account's token version inside the transaction that changed it (delivered at commit). */
export async function announceAccount(tx: Queryable, subject: string, version: number): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [ACCOUNT_CHANNEL, `${subject} ${version}`]);
}

export function listenForAccountChanges(db: ListeningDb): AccountChanges {
  return {
    listen: (listener) =>
      db.listen(ACCOUNT_CHANNEL, {
        onPayload(payload) {
          const [subject, version] = payload.split(' ');
          if (subject && version && /^-?\d+$/.test(version)) listener.onChange(subject, Number(version));
        },
        onReconnect: () => listener.onReconnect?.(),
      }),
  };
}
