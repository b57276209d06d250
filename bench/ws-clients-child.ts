// A separate process holding many WebSocket clients. Speaks either the graphql-transport-ws protocol
// (connection_init, one subscribe) or plain ws, counts messages, and reports receive times per event.
// Messages to the parent: { ready }, then { event, times[] } per event as soon as all clients have it.
import WebSocket from 'ws';

/** A message to the parent: all clients are ready, or all have received event `event` at `times`. */
export type WsClientsMessage = { ready: true } | { event: number; times: number[] };

const [url, countArg, mode, token, query, variablesJson] = process.argv.slice(2) as [string, string, string, string?, string?, string?];
const count = Number(countArg);
const now = () => performance.timeOrigin + performance.now();
const clients: WebSocket[] = [];
let closing = false;
let connected = 0;
const received = new Map<number, number[]>(); // event number → receive times
const send = (m: WsClientsMessage) => process.send!(m);

function onEvent(n: number): void {
  const times = received.get(n) ?? [];
  times.push(now());
  received.set(n, times);
  if (times.length === count) {
    send({ event: n, times });
    received.delete(n);
  }
}

function open(i: number): void {
  const ws = new WebSocket(url, mode === 'raw' ? undefined : 'graphql-transport-ws', { perMessageDeflate: false });
  let seen = 0;
  ws.on('open', () => {
    if (mode !== 'raw') ws.send(JSON.stringify({ type: 'connection_init', payload: { token } }));
    else ready();
  });
  ws.on('message', (data) => {
    if (mode === 'raw') return onEvent(seen++);
    const m = JSON.parse(String(data)) as { type: string; payload?: unknown };
    if (m.type === 'connection_ack') {
      if (mode === 'init') return ready();
      ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query, variables: JSON.parse(variablesJson || '{}') } }));
      // The first result is the job's current state, which confirms the subscription is live.
    } else if (m.type === 'next') {
      if (seen === 0) ready();
      else onEvent(seen - 1);
      seen++;
    } else if (m.type === 'error') {
      console.error('subscription refused', JSON.stringify(m.payload));
      process.exit(1);
    }
  });
  ws.on('error', (err) => {
    console.error('client error', err.message);
    process.exit(1);
  });
  ws.on('close', (code, reason) => {
    if (closing) return;
    console.error(`socket closed by the server: ${code} ${reason}`);
    process.exit(1);
  });
  clients.push(ws);
}

function ready(): void {
  if (++connected === count) send({ ready: true });
}

// Open in small bursts so the server's accept queue is not the thing being measured.
(async () => {
  for (let i = 0; i < count; i++) {
    open(i);
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
  }
})();

process.on('message', (m) => {
  if (m === 'close') {
    closing = true;
    for (const ws of clients) ws.terminate();
    setTimeout(() => process.exit(0), 100);
  }
});
