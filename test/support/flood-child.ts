// A hostile subscriber in its own process: opens sockets with one token and subscribes on each many times
// to every job's changes, with documents that differ only in a comment. Reports { ready } once every
// subscription was sent and acknowledged at the socket level, and { received, closes } when asked.
import WebSocket from 'ws';

const [url, token, socketsArg, perSocketArg] = process.argv.slice(2) as [string, string, string, string];
const sockets = Number(socketsArg);
const perSocket = Number(perSocketArg);
let received = 0;
let errors = 0;
const closes: number[] = [];
let acked = 0;
const all: WebSocket[] = [];

for (let s = 0; s < sockets; s++) {
  const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
  all.push(ws);
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { token } })));
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.type === 'connection_ack') {
      for (let i = 0; i < perSocket; i++) {
        const query = `subscription { hostScanJobStatus { id status statusDescription hostScanHostStatus { name status os version failureReason } } } # ${s}-${i}`;
        ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query } }));
      }
      if (++acked === sockets) setTimeout(() => process.send!({ ready: true }), 200);
    } else if (m.type === 'next') received++;
    else if (m.type === 'error') errors++;
  });
  ws.on('close', (code) => closes.push(code));
  ws.on('error', () => {});
}

process.on('message', (m: { report?: boolean; close?: boolean }) => {
  if (m.report) process.send!({ received, errors, closes });
  if (m.close) {
    for (const ws of all) ws.terminate();
    setTimeout(() => process.exit(0), 50);
  }
});
