// The fault suite's relay into one network namespace. The suite runs outside the lab's
// namespaces and Node cannot enter one, so one relay per host runs inside it
// (`ip netns exec NS node ns-relay.mjs SOCKET`) and forwards connections made to a Unix
// socket (a path on the shared file system) to sockets opened from inside the host.
// The first line of each connection says what to open:
//   "TCP host port\n": a TCP connection; bytes are piped both ways, ends and resets too.
//   "UDP host port\n": a UDP socket bound to an ephemeral port of the host; every frame
//     [u32 LE length][bytes] that follows is sent as one datagram, and each datagram
//     received is written back as a frame.
// It exits when its stdin closes, so it never outlives the suite.
import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';

const [socketPath] = process.argv.slice(2);
if (socketPath === undefined) {
  process.stderr.write('usage: ns-relay.mjs SOCKET_PATH\n');
  process.exit(2);
}
const kHeaderBytesMax = 256;
const kFrameBytesMax = 65536;

const server = createServer((client) => {
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(10);
    if (end < 0) {
      if (head.length > kHeaderBytesMax) client.destroy();
      return;
    }
    client.off('data', onData);
    client.pause();
    const [kind, host, portText] = head.subarray(0, end).toString('latin1').trim().split(' ');
    const rest = head.subarray(end + 1);
    const port = Number(portText);
    if (kind === 'TCP') tcp(client, host, port, rest);
    else if (kind === 'UDP') udp(client, host, port, rest);
    else client.destroy();
  };
  client.on('data', onData);
  client.on('error', () => client.destroy());
});

function tcp(client, host, port, rest) {
  const upstream = createConnection({ host, port, allowHalfOpen: true });
  upstream.on('connect', () => {
    if (rest.length > 0) upstream.write(rest);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
  // The client is a Unix socket, which cannot be reset (resetAndDestroy throws on one): closed.
  upstream.on('error', () => client.destroy());
  upstream.on('close', () => client.end());
  client.on('close', () => upstream.destroy());
}

function udp(client, host, port, rest) {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  let pending = rest;
  const sendFrames = () => {
    while (pending.length >= 4) {
      const length = pending.readUInt32LE(0);
      if (length > kFrameBytesMax) return client.destroy();
      if (pending.length < 4 + length) return;
      socket.send(pending.subarray(4, 4 + length), port, host);
      pending = pending.subarray(4 + length);
    }
  };
  socket.on('message', (message) => {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(message.length, 0);
    client.write(Buffer.concat([header, message]));
  });
  socket.on('error', () => {});
  socket.bind(0, () => {
    client.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      sendFrames();
    });
    sendFrames();
    client.resume();
  });
  client.on('close', () => socket.close());
}

// The suite opens a few hundred connections at once in its floods.
server.listen({ path: socketPath, backlog: 1024 }, () => process.stdout.write('ready\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
