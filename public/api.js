// GraphQL over HTTP for the dashboard. Errors keep the gateway's extensions.code, so callers can tell a
// refused token (UNAUTHENTICATED, FORBIDDEN) from anything else.

const REFUSALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN']);

export class GatewayError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }

  /** The gateway will not serve this token: it is not valid, or it carries no role that may read here. */
  get refused() {
    return REFUSALS.has(this.code);
  }
}

export async function gql(token, query, variables) {
  let res;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GatewayError('The gateway cannot be reached.', 'NETWORK');
  }
  const body = await res.json().catch(() => null);
  const errors = body?.errors ?? (res.ok ? [] : [{ message: `The gateway answered HTTP ${res.status}.` }]);
  if (errors.length > 0) {
    const code = errors.find((e) => REFUSALS.has(e.extensions?.code))?.extensions.code ?? errors[0].extensions?.code;
    throw new GatewayError(errors.map((e) => e.message).join(' '), code ?? (res.status === 401 ? 'UNAUTHENTICATED' : undefined));
  }
  return body.data;
}

/** A POST to the gateway's REST routes; a ProblemDetails answer becomes a GatewayError with its words. */
export async function rest(token, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      cache: 'no-store',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
  } catch {
    throw new GatewayError('The gateway cannot be reached.', 'NETWORK');
  }
  const answer = await res.json().catch(() => null);
  if (res.ok) return answer;
  const fields = Object.values(answer?.errors ?? {}).flat().join(' ');
  // A 403 here refuses the operation (importing is for Admins), not the token: the page stays signed in.
  const code = res.status === 401 ? 'UNAUTHENTICATED' : undefined;
  throw new GatewayError(fields || answer?.detail || answer?.title || `The gateway answered HTTP ${res.status}.`, code);
}
