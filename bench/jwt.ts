// JWT verification per request, against a raw HMAC-SHA256 of the same token (the least work that checks
// a signature), in the same run.
//   npm run build && node --import tsx bench/jwt.ts
import { createHmac, createSecretKey, generateKeyPairSync } from 'node:crypto';
import { fmt, report } from './lib';

const { createVerifier, mintToken } = require('../dist/auth') as typeof import('../src/auth');

const SECRET = Buffer.from('bench-secret-0123456789-abcdefghijklmnop');
const ROUNDS = 200_000;

function nsPerOp(rounds: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(rounds, 20_000); i++) fn(i); // warm-up
  const t = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn(i);
  return Number(process.hrtime.bigint() - t) / rounds;
}

const verifier = createVerifier({ secret: SECRET });
const token = mintToken({ key: SECRET, subject: 'bench', roles: ['App'], ttl: '1h' });
const key = createSecretKey(SECRET);
const dot = token.lastIndexOf('.');
const signingInput = token.slice(0, dot);
const signature = token.slice(dot + 1);

const raw = nsPerOp(ROUNDS, () => {
  if (createHmac('sha256', key).update(signingInput).digest('base64url') !== signature) throw new Error('bad signature');
});
const repeated = nsPerOp(ROUNDS, () => verifier.verify(token));
// Every token new: the full jsonwebtoken verification each time (the verified-token map never hits).
const fresh = Array.from({ length: 60_000 }, (_, i) => mintToken({ key: SECRET, subject: `bench-${i}`, roles: ['App'], ttl: '1h' }));
const firstSight = nsPerOp(40_000, (i) => verifier.verify(fresh[(i + 20_000) % fresh.length]!));

async function gatewayIssued(): Promise<{ seen: number; first: number }> {
  // The gateway's own ES256 tokens, verified by kid beside the HS256 key (as in a running gateway).
  const { TokenIssuer } = require('../dist/token-issuer') as typeof import('../src/token-issuer');
  const { KeyRing } = require('../dist/token-keys') as typeof import('../src/token-keys');
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ring = new KeyRing();
  ring.replace([{ kid: 'bench', privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk: pair.publicKey.export({ format: 'jwk' }), signsFrom: new Date(0), retiresAt: null }]);
  const issuer = new TokenIssuer(ring, { ttlS: 900, issuer: 'scan-gateway', audience: 'scan-gateway' });
  const both = createVerifier({ secret: SECRET, issued: issuer });
  const es = (await issuer.issue({ subject: 'bench', name: 'bench', roles: ['App'], version: 0 })).token;
  await both.verify(es);
  const seen = nsPerOp(ROUNDS, () => both.verify(es));
  // Warm-up and measured rounds each take tokens not seen before.
  const esFresh = await Promise.all(Array.from({ length: 10_000 }, (_, i) => issuer.issue({ subject: `b-${i}`, name: 'b', roles: ['App'], version: 0 }).then((t) => t.token)));
  let next = 0;
  const first = nsPerOp(5_000, () => both.verify(esFresh[next++]!));
  return { seen, first };
}

report('JWT (HS256) verification per request', [
  ['ceiling: raw HMAC-SHA256 of the token', `${fmt(raw / 1000, 2)} µs`],
  ['a request with a token already seen (every request after the first)', `${fmt(repeated / 1000, 2)} µs`],
  ['  cost ratio (target ≤ 4)', fmt(repeated / raw, 2)],
  ['a token seen for the first time (full jsonwebtoken verify)', `${fmt(firstSight / 1000, 2)} µs`],
  ['  cost ratio', fmt(firstSight / raw, 2)],
]);

gatewayIssued().then(({ seen, first }) =>
  report("The gateway's own ES256 tokens (sign-in)", [
    ['a request with a token already seen', `${fmt(seen / 1000, 2)} µs`],
    ['  cost ratio to the raw HMAC (target ≤ 4)', fmt(seen / raw, 2)],
    ['a token seen for the first time (ECDSA P-256 verify)', `${fmt(first / 1000, 2)} µs`],
  ]),
);
