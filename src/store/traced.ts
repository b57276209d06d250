import type { Tracing } from '../tracing';
import type { Store } from './index';

// Capabilities whose methods are not store calls (a notification stream).
const UNTRACED = new Set<PropertyKey>(['changes']);

/**
 * The store as the service and the runner see it when tracing is on: each call of a part's method
 * (`jobs.getJobs`, `queue.claim`, …) is a span `store <part>.<method>`, a child of the request or scan
 * that made it. A Proxy, so parts added later are traced without a list to keep.
 */
export function tracedStore(store: Store, tracing: Tracing): Store {
  const parts = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'object' || value === null || UNTRACED.has(prop)) return value;
      if (!parts.has(prop)) parts.set(prop, tracedPart(String(prop), value, tracing, store.kind));
      return parts.get(prop);
    },
  });
}

function tracedPart(part: string, target: object, tracing: Tracing, kind: Store['kind']): object {
  return new Proxy(target, {
    get(t, method, receiver) {
      const value: unknown = Reflect.get(t, method, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        tracing.inSpan(`store ${part}.${String(method)}`, { 'db.system.name': kind === 'postgres' ? 'postgresql' : 'pglite' }, () =>
          Promise.resolve((value as (...a: unknown[]) => unknown).apply(t, args)));
    },
  });
}
