import type { Principal } from '../../src/auth';

/** An Admin principal for calling the service directly in test setup (not through a token). */
export const ADMIN: Principal = { subject: 'setup', userName: 'setup', roles: new Set(['Admin']), expiresAt: Date.now() + 3.6e6 };
