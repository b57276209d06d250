'use strict';
// JWT verification per request, against a raw HMAC-SHA256 of the same token (the least work that checks
// a signature), in the same run.
//   npm run build && node bench/jwt.js
const { createHmac, createSecretKey } = require('node:crypto');
const { createVerifier, mintToken } = require('../dist/auth');
const { fmt, report } = require('./lib');

const SECRET = Buffer.from('bench-secret-0123456789-abcdefghijklmnop');
const ROUNDS = 200_000;

function nsPerOp(rounds, fn) {
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
const firstSight = nsPerOp(40_000, (i) => verifier.verify(fresh[(i + 20_000) % fresh.length]));

report('JWT (HS256) verification per request', [
  ['ceiling: raw HMAC-SHA256 of the token', `${fmt(raw / 1000, 2)} µs`],
  ['a request with a token already seen (every request after the first)', `${fmt(repeated / 1000, 2)} µs`],
  ['  cost ratio (target ≤ 4)', fmt(repeated / raw, 2)],
  ['a token seen for the first time (full jsonwebtoken verify)', `${fmt(firstSight / 1000, 2)} µs`],
  ['  cost ratio', fmt(firstSight / raw, 2)],
]);
