// The gateway's own sign-in, as the vendor's scripts do it: password → pre-MFA token (and an HttpOnly
// MfaSession cookie the browser keeps) → the authenticator's code → the full token. First-time users
// enrol an authenticator between the steps. Nothing here is logged or put in a URL; errors carry the
// gateway's own words (its problem details' `detail`).

async function post(path, body, token) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Error('The gateway cannot be reached.');
  }
  const answer = await res.json().catch(() => null);
  if (!res.ok) {
    const error = new Error(answer?.detail || answer?.title || `The gateway answered HTTP ${res.status}.`);
    error.status = res.status;
    throw error;
  }
  return answer;
}

/** Step one: a pre-MFA token (or, with MFA off, already a full one: `mfa` false). */
export async function signInPassword(login, password) {
  const token = await post('/signinBody', { Login: login, Password: password });
  if (typeof token !== 'string') throw new Error('The gateway gave no token.');
  fresh(token);
  return { token, mfa: isPreMfa(token) };
}

/** First time only: a new authenticator key, as an otpauth:// URI. */
export async function enrolTotp(preToken) {
  return (await post('/signin2fa/enrol', undefined, preToken)).uri;
}

/** Step two: the code for the full token. */
export async function signInCode(preToken, code) {
  const token = await post('/signin2fa', code, preToken);
  if (typeof token !== 'string') throw new Error('The gateway gave no token.');
  return fresh(token);
}

/** A fresh token for one the gateway issued. */
export async function refreshToken(token) {
  let res;
  try {
    res = await fetch('/api/v1/UserToken', { cache: 'no-store', headers: { authorization: `Bearer ${token}` } });
  } catch {
    return { retry: true };
  }
  if (res.ok) return { token: fresh(await res.json()) };
  // 403: not a token this gateway issued (pasted, or an identity provider's): it is used until it expires.
  return { retry: res.status >= 500 || res.status === 429 };
}

// The page's clock may be minutes off the gateway's, and a token's times are the gateway's. They are read
// against the gateway's clock as estimated from the issue time of the newest token it handed over (within
// a second: iat is in whole seconds); read against the page's own, a clock ahead by more than a token's
// life less a minute would make every fresh token look due for refresh at once.
let offsetMs = 0;
function fresh(token) {
  const iat = claims(token)?.iat;
  if (typeof iat === 'number') offsetMs = iat * 1000 - Date.now();
  return token;
}

/** Now on the gateway's clock, as far as the page can tell. */
export const gatewayNow = () => Date.now() + offsetMs;

/** A JWT's claims, or null; nothing is verified here (the gateway does that). */
export function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

/** Whether a first step's token still needs the code: the gateway marks pre-MFA tokens (`pre_mfa`). */
function isPreMfa(token) {
  return Boolean(claims(token)?.pre_mfa);
}
