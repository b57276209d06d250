// The GraphQL explorer: GraphiQL with the gateway's bearer token. GraphiQL and React are the published
// UMD builds, loaded (deferred) before this module runs; graphql-ws is the dashboard's copy. The token
// rules are the dashboard's: kept only once accepted, the development token offered to local visitors.
import { createClient } from '/assets/graphql-ws/client.js';
import { gql } from '/api.js';
import { developmentToken, dropToken, keepToken, savedToken } from '/token.js';

const { React, ReactDOM, GraphiQL } = globalThis;
const $ = (selector) => document.querySelector(selector);

const DEFAULT_QUERY = `# Queries and mutations go over HTTP, subscriptions over the WebSocket, both at /graphql.
# Live job changes: subscription { hostScanJobStatus { id revision status hostScanHostStatus { name status } } }
{
  hosts(first: 20) {
    nodes { id name ipAddress os version lastScanStatus lastScanTimeUtc }
  }
}
`;

const root = ReactDOM.createRoot($('#graphiql'));

// GraphiQL keeps its tabs (query text, variables, headers), history and layout in localStorage unless told
// otherwise, so a password typed as a variable of createCredential or resetUserPassword would stay on disk
// after the tab closed. Here they live only as long as the page: a Map behind GraphiQL's Storage shape.
const memory = new Map();
const storage = {
  getItem: (key) => (memory.has(key) ? memory.get(key) : null),
  setItem: (key, value) => void memory.set(key, String(value)),
  removeItem: (key) => void memory.delete(key),
  clear: () => memory.clear(),
  get length() {
    return memory.size;
  },
};
let socket = null;

/** GraphiQL with a fetcher that sends `token` over HTTP (Authorization) and in the socket's connection_init. */
function render(token) {
  void socket?.dispose();
  const authorization = token ? { Authorization: `Bearer ${token}` } : {};
  socket = createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    connectionParams: authorization,
    lazy: true,
  });
  // Plain JSON over HTTP: the gateway has no incremental delivery to ask for.
  const fetcher = GraphiQL.createFetcher({ url: '/graphql', headers: authorization, wsClient: socket, enableIncrementalDelivery: false });
  // A new key per token: GraphiQL starts over and reads the schema with the new token.
  root.render(
    React.createElement(GraphiQL, { fetcher, storage, shouldPersistHeaders: false, defaultQuery: DEFAULT_QUERY, key: token || 'none' }),
  );
}

function showStatus(state, text) {
  $('#token-status').dataset.state = state;
  $('#token-status').textContent = text;
}

async function useToken(token, { keep }) {
  showStatus('checking', 'checking…');
  try {
    await gql(token, '{ hosts(first: 1) { nodes { id } } }');
  } catch (err) {
    if (err.refused) {
      // As on the dashboard: not kept, not used, and the development token back in the field.
      dropToken(token);
      $('#token').value = devToken;
      showStatus('refused', `refused: ${err.message}`);
      render('');
      return 'refused';
    }
    showStatus('failed', err.message);
    render(token);
    return 'failed';
  }
  if (keep) keepToken(token);
  showStatus('accepted', 'token accepted');
  render(token);
  return 'accepted';
}

const devToken = await developmentToken();
$('#token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('#token').value.trim();
  void useToken(token, { keep: token !== devToken });
});

const saved = savedToken();
const initial = saved || devToken;
$('#token').value = initial;
if (!initial) {
  render('');
} else if ((await useToken(initial, { keep: !!saved })) === 'refused' && saved && devToken) {
  $('#token').value = devToken;
  await useToken(devToken, { keep: false });
}
