import type { Tracing } from '../tracing';
import type { Scanner } from './index';

/** A scan as a span `scan <host name>`, with what it found; the scanner's store calls are not in it. */
export function tracedScanner(scanner: Scanner, tracing: Tracing): Scanner {
  return {
    scan: (target, signal, options) =>
      tracing.inSpan(`scan ${target.name}`, { 'host.name': target.name }, async (span) => {
        const outcome = await scanner.scan(target, signal, options);
        span.setAttributes({ 'scan.ok': outcome.ok, 'scan.host_connected': outcome.hostConnected, ...(outcome.os ? { 'host.os': outcome.os } : {}) });
        return outcome;
      }),
  };
}
