import { describe, expect, it } from 'vitest';
import { CHANGES_PER_MESSAGE, decodeChanges, decodeProbe, encodeChanges, encodeProbe } from '../src/change-message';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('change announcements', () => {
  it('carry ids and revisions, split to fit a NOTIFY payload', () => {
    const changes = Array.from({ length: CHANGES_PER_MESSAGE + 1 }, (_, i) => ({ id: id(i), revision: i }));
    const messages = encodeChanges('123-origin', changes);
    expect(messages).toHaveLength(2);
    expect(Math.max(...messages.map((m) => Buffer.byteLength(m)))).toBeLessThan(8000);
    expect(messages.flatMap((m) => decodeChanges(m)!.changes)).toEqual(changes);
    expect(decodeChanges(messages[0]!)!.origin).toBe('123-origin');
  });

  it('read ids without a revision (older announcements) and skip what is not a job id', () => {
    expect(decodeChanges(`o ${id(1)},${id(2)}:7,not-a-uuid:3,${id(3)}:x,`)!.changes).toEqual([
      { id: id(1), revision: null }, { id: id(2), revision: 7 }, { id: id(3), revision: null },
    ]);
    expect(decodeChanges('no-space')).toBeNull();
    expect(decodeChanges(' leading')).toBeNull();
  });

  it('hand a probe only to the process that sent it', () => {
    const probe = encodeProbe('me', 'token-1');
    expect(decodeProbe(probe, 'me')).toBe('token-1');
    expect(decodeProbe(probe, 'someone-else')).toBeNull();
  });
});
