// A separate process holding N loopback SSH listeners for the scan benchmark; sends their ports to the parent.
import net from 'node:net';

const count = Number(process.argv[2] ?? 1000);
const banner = 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n';
const servers: net.Server[] = [];

(async () => {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      // Read (and drop) what the client sends: unread, its FIN is never seen and the socket stays open
      // for good (a client that speaks, as the first-contact host-key read does, leaked one per scan).
      socket.resume();
      socket.end(banner);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    ports.push((server.address() as net.AddressInfo).port);
  }
  process.send!({ ports });
})();

// The parent asks for this process's CPU time, to count the listeners' share of each scan.
process.on('message', (msg) => {
  if (msg === 'cpu') process.send!({ cpu: process.cpuUsage() });
});
process.on('disconnect', () => process.exit(0));
