// A hostile subscriber in its own process: opens sockets with one token and subscribes on each many times
// to every job's changes, with documents that differ only in a comment. Reports { ready } once every
// socket was acknowledged and its subscriptions sent (the test then waits for the gateway to count them),
// and when asked { received, errors, closes,
// terminal }: `terminal` says, for each subscription (`socket-index`), how many of the jobs named in the
// request it has seen in a terminal state.
import WebSocket from 'ws';

const [url, token, socketsArg, perSocketArg] = process.argv.slice(2) as [string, string, string, string];
const sockets = Number(socketsArg);
const perSocket = Number(perSocketArg);
let received = 0;
let errors = 0;
const closes: number[] = [];
let acked = 0;
const all: WebSocket[] = [];
const TERMINAL = new Set(['Complete', 'Failed', 'Cancelled', 'CompletedWithErrors', 'CompletedNotRun']);
const ended = new Map<string, Set<string>>();

for (let s = 0; s < sockets; s++) {
  const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
  all.push(ws);
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { token } })));
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.type === 'connection_ack') {
      for (let i = 0; i < perSocket; i++) {
        ended.set(`${s}-${i}`, new Set());
        const query = `subscription { hostScanJobStatus { id status statusDescription hostScanHostStatus { name status os version failureReason } } } # ${s}-${i}`;
        ws.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query } }));
      }
      if (++acked === sockets) process.send!({ ready: true });
    } else if (m.type === 'next') {
      received++;
      const job = m.payload?.data?.hostScanJobStatus;
      if (job && TERMINAL.has(job.status)) ended.get(`${s}-${String(m.id).slice(1)}`)?.add(job.id);
    } else if (m.type === 'error') errors++;
  });
  ws.on('close', (code) => closes.push(code));
  ws.on('error', () => {});
}

process.on('message', (m: { report?: boolean; jobs?: string[]; close?: boolean }) => {
  if (m.report) {
    const terminal = Object.fromEntries([...ended].map(([sub, seen]) => [sub, (m.jobs ?? []).filter((id) => seen.has(id)).length]));
    process.send!({ received, errors, closes, terminal });
  }
  if (m.close) {
    for (const ws of all) ws.terminate();
    setTimeout(() => process.exit(0), 50);
  }
});
