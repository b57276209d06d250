import { createHash } from 'node:crypto';

/**
 * Name-based UUIDs (RFC 9562 §5.5, version 5): the same account, group, service or task on the same host
 * gets the same id in every snapshot, so `/User/{userId}` and GraphQL ids stay valid across scans and a
 * difference between two snapshots is a comparison of ids. Written here because node:crypto has no v5
 * and the `uuid` package's current major is ESM-only, which this CommonJS build cannot import.
 */
export function nameId(hostId: string, kind: 'user' | 'group' | 'service' | 'task', name: string): string {
  const namespace = Buffer.from(hostId.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(namespace).update(`${kind}:${name}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
