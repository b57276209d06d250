// oidc-provider ships no types; tests use a small part of it (identity-provider.test.ts).
declare module 'oidc-provider';
