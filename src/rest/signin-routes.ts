import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badInput } from '../errors';
import type { Attempt, SignInService } from '../sign-in';
import { problemDetails } from './schemas';

// The vendor's sign-in routes, as its scripts call them: thin translations to SignInService. Tokens go
// back as bare JSON strings, as the vendor's server returns them.

export const MFA_COOKIE = 'MfaSession';

const attempt = (request: FastifyRequest): Attempt => ({ address: request.ip, traceId: String(request.id) });

/**
 * Login and password from a JSON object or a form, property names in any case (ASP.NET binds `Login`,
 * `login` and `LOGIN` alike). Anything but an object is a bad request, not a failed sign-in.
 */
function credentials(body: unknown): { login: unknown; password: unknown } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badInput({ $: ['Expected a JSON object (or a form) with Login and Password.'] });
  }
  const get = (name: string) => {
    const key = Object.keys(body).find((k) => k.toLowerCase() === name);
    return key === undefined ? undefined : (body as Record<string, unknown>)[key];
  };
  return { login: get('login'), password: get('password') };
}

function cookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export async function signInRoutes(app: FastifyInstance, { signIn, secure }: { signIn: SignInService; secure: boolean }) {
  // The PowerShell module posts a form; only these routes take one.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });
  app.setValidatorCompiler(() => () => true);

  const first = async (request: FastifyRequest, reply: FastifyReply) => {
    const step = await signIn.password(credentials(request.body), attempt(request));
    if (step.mfaCookie) {
      // Path=/: the second step is /signin2fa or its alias /sigin2fa. Lives as long as the pre-MFA token.
      reply.header('set-cookie', `${MFA_COOKIE}=${step.mfaCookie}; Path=/; Max-Age=300; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
    }
    return reply.header('cache-control', 'no-store').send(JSON.stringify(step.token));
  };
  const json = { schema: { hide: true } };
  app.post('/signinBody', json, (request, reply) => first(request, reply.type('application/json; charset=utf-8')));
  app.post('/signin', json, (request, reply) => first(request, reply.type('application/json; charset=utf-8')));

  const second = async (request: FastifyRequest, reply: FastifyReply) => {
    if (typeof request.body !== 'string') throw badInput({ $: ['Expected the code as a JSON string, e.g. "123456".'] });
    const token = await signIn.code(request.headers.authorization, cookie(request, MFA_COOKIE), request.body, attempt(request));
    reply.header('set-cookie', `${MFA_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
    return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify(token));
  };
  app.post('/signin2fa', json, second);
  app.post('/sigin2fa', json, second);
  app.post('/signin2fa/enrol', json, async (request, reply) =>
    reply.header('cache-control', 'no-store').send(await signIn.enrolTotp(request.headers.authorization, cookie(request, MFA_COOKIE), attempt(request))),
  );

  app.post('/WebAppApi/api/v1/AppUserToken', json, async (request, reply) => {
    const token = await signIn.apiKey(credentials(request.body), attempt(request));
    return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify(token));
  });
}

/** GET /api/v1/UserToken: a fresh token for the bearer's (registered under /api/v1, behind its auth hook). */
export async function userTokenRoute(app: FastifyInstance, { signIn }: { signIn: SignInService }) {
  app.get('/UserToken', {
    schema: {
      summary: 'A fresh token for the bearer (refresh before it expires)',
      tags: ['Sign-in'],
      // 403: a token the gateway did not issue (a JWT_SECRET or identity provider token) is not refreshed here.
      response: { 200: { type: 'string', description: 'The new token, as a JSON string.' }, 401: problemDetails, 403: problemDetails },
    },
  }, async (request, reply) => {
    const token = await signIn.refresh(request.principal!, attempt(request));
    return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify(token));
  });
}
