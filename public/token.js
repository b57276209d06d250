// Which token the page uses. A token is kept (for this tab, in sessionStorage) only once the gateway has
// accepted it, and dropped as soon as the gateway refuses it, so a mistyped or expired token never
// outlives the page that tried it. In development the gateway offers its own Admin token to visitors on
// this machine; that one is asked for at every load and never stored.

const KEY = 'scan-gateway-token';

export const savedToken = () => sessionStorage.getItem(KEY) || '';

export function keepToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function dropToken(token) {
  if (sessionStorage.getItem(KEY) === token) sessionStorage.removeItem(KEY);
}

/** The development token when the gateway offers one to this visitor, else ''. */
export async function developmentToken() {
  try {
    const res = await fetch('/dashboard/config.json', { cache: 'no-store' });
    return (await res.json()).devToken || '';
  } catch {
    return '';
  }
}
