// Live job states over the hostScanJobStatus subscription (graphql-ws, served from the installed package).
import { createClient } from '/assets/graphql-ws/client.js';

/**
 * Subscribe to every job change with `token`. Tells `on.state` 'connecting', 'live' or 'reconnecting';
 * `on.connected` after every (re)connection, when the page should re-read what it may have missed;
 * `on.refused` when the gateway closes the socket over the token (4403), after which nothing retries.
 * Returns `stop`, which ends every subscription and the socket, and `subscribe`, for more subscriptions
 * on the same socket (a batch's progress): the client subscribes them again after a reconnection.
 */
export function watchJobs(token, fields, on) {
  let ended = false;
  const client = createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: Infinity,
    shouldRetry: (event) => event?.code !== 4403,
    on: {
      connecting: () => !ended && on.state('connecting'),
      connected: () => {
        if (ended) return;
        on.state('live');
        on.connected();
      },
      closed: (event) => {
        if (ended) return;
        if (event?.code === 4403) {
          ended = true;
          on.refused(event.reason || 'The gateway refused the token.');
        } else {
          on.state('reconnecting');
        }
      },
    },
  });
  const subscribe = () =>
    client.subscribe({ query: `subscription { hostScanJobStatus { ${fields} } }` }, {
      next: ({ data }) => data?.hostScanJobStatus && on.job(data.hostScanJobStatus),
      error: (err) => {
        // Close events reach `closed` above. A GraphQL error (a list) ends this subscription but not the
        // socket. A reader that fell behind (UNAVAILABLE) subscribes again and re-reads, since the new
        // subscription only brings later changes; any other error would only repeat.
        if (!Array.isArray(err) || ended) return;
        on.error(err.map((e) => e.message).join(' '));
        if (err.some((e) => e.extensions?.code === 'UNAVAILABLE')) {
          subscribe();
          on.connected();
        }
      },
      complete: () => {},
    });
  subscribe();
  return {
    stop: () => {
      ended = true;
      void client.dispose();
    },
    /** `sink.next(data)`, `sink.error(message)` for GraphQL errors, `sink.complete()`; returns the unsubscribe. */
    subscribe: (query, variables, sink) =>
      client.subscribe({ query, variables }, {
        next: ({ data }) => !ended && data && sink.next(data),
        error: (err) => !ended && Array.isArray(err) && sink.error(err.map((e) => e.message).join(' ')),
        complete: () => !ended && sink.complete(),
      }),
  };
}
