import type { Logger } from 'pino';

/**
 * The parts of a running gateway in the order they started. Both a start that fails half-way and a
 * graceful stop stop them in reverse order through this one list, so a new part is added in one place.
 */
export function createLifecycle(logger: Logger) {
  const parts: { name: string; stop: () => Promise<unknown> }[] = [];
  return {
    /** Register a part that has started; `stop` is called once, in reverse order of registration. */
    add(name: string, stop: () => Promise<unknown> | unknown): void {
      parts.push({ name, stop: async () => stop() });
    },
    /** Stop every part (each failure logged, the rest still stopped); `onStopped` hears each step. */
    async stopAll(onStopped?: (name: string) => void): Promise<void> {
      for (const part of parts.splice(0).reverse()) {
        await part.stop().catch((err: unknown) => logger.error({ err }, `stopping: ${part.name} failed`));
        onStopped?.(part.name);
      }
    },
  };
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
