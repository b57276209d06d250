import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';

// The sign-in and identity provider variables (beside config.test.ts, which others extend too).

describe('sign-in configuration', () => {
  it('defaults: MFA required, 15-minute tokens, lockout after 10, no external provider', () => {
    expect(loadConfig({})).toMatchObject({
      credentialsKey: null, tokenTtlS: 900, signinMfa: true, jwtJwksUrl: null, jwtOidcIssuer: null, jwtRolesClaim: null, jwtRoleMap: null,
      signinLockout: { lockAfter: 10, lockAfterPerAddress: 100, lockoutMs: 900_000, slowAfter: 3 },
    });
  });

  it('reads every variable', () => {
    const c = loadConfig({
      CREDENTIALS_KEY: Buffer.alloc(32, 0xab).toString('base64'), TOKEN_TTL_S: '300', SIGNIN_MFA: 'off', JWT_OIDC_ISSUER: 'https://idp.example/realms/x',
      JWT_ROLES_CLAIM: 'realm_access.roles', JWT_ROLE_MAP: 'scan-admins=Admin, scanners=App', SIGNIN_LOCK_AFTER: '5', SIGNIN_LOCKOUT_S: '60',
    });
    expect(c.credentialsKey).toEqual(Buffer.alloc(32, 0xab));
    expect(c).toMatchObject({ tokenTtlS: 300, signinMfa: false, jwtOidcIssuer: 'https://idp.example/realms/x', jwtRolesClaim: 'realm_access.roles' });
    expect([...c.jwtRoleMap!]).toEqual([['scan-admins', 'Admin'], ['scanners', 'App']]);
    expect(c.signinLockout).toMatchObject({ lockAfter: 5, lockoutMs: 60_000 });
    expect(loadConfig({ CREDENTIALS_KEY: Buffer.alloc(32, 1).toString('base64') }).credentialsKey).toEqual(Buffer.alloc(32, 1));
  });

  const bad: [string, Record<string, string>, string][] = [
    ['a short CREDENTIALS_KEY', { CREDENTIALS_KEY: 'abcd' }, 'CREDENTIALS_KEY'],
    ['SIGNIN_MFA neither required nor off', { SIGNIN_MFA: 'maybe' }, 'SIGNIN_MFA'],
    ['TOKEN_TTL_S under a minute', { TOKEN_TTL_S: '5' }, 'TOKEN_TTL_S'],
    ['JWT_JWKS_URL not a URL', { JWT_JWKS_URL: 'keys.json' }, 'JWT_JWKS_URL'],
    ['JWT_OIDC_ISSUER not http(s)', { JWT_OIDC_ISSUER: 'file:///etc/passwd' }, 'JWT_OIDC_ISSUER'],
    ['JWT_ROLE_MAP onto an unknown role', { JWT_ROLE_MAP: 'admins=Root' }, 'JWT_ROLE_MAP'],
    ['JWT_ROLE_MAP without =', { JWT_ROLE_MAP: 'admins' }, 'JWT_ROLE_MAP'],
    ['SIGNIN_LOCK_AFTER zero', { SIGNIN_LOCK_AFTER: '0' }, 'SIGNIN_LOCK_AFTER'],
  ];
  it.each(bad)('%s → ConfigError naming it', (_name, env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable} `));
  });

  it('never echoes the CREDENTIALS_KEY it refuses', () => {
    const secret = 'Zm9vYmFyYmF6cXV4cXV1eA==';
    expect(() => loadConfig({ CREDENTIALS_KEY: secret })).toThrow(/^CREDENTIALS_KEY must be the base64 of 32 bytes/);
    try {
      loadConfig({ CREDENTIALS_KEY: secret });
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });
});
