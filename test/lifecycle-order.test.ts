import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createLifecycle } from '../src/lifecycle';

describe('createLifecycle', () => {
  it('stops parts in reverse order of start, each once, and goes on past a part that fails to stop', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (l: string) => lines.push(l) });
    const life = createLifecycle(logger);
    const stopped: string[] = [];
    life.add('store', () => stopped.push('store'));
    life.add('runner', async () => {
      throw new Error('runner would not stop');
    });
    life.add('http', async () => stopped.push('http'));
    const heard: string[] = [];
    await life.stopAll((name) => heard.push(name));
    expect(stopped).toEqual(['http', 'store']);
    expect(heard).toEqual(['http', 'runner', 'store']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/stopping: runner failed/);
    expect(lines[0]).toMatch(/runner would not stop/);
    await life.stopAll();
    expect(stopped).toEqual(['http', 'store']);
  });
});
