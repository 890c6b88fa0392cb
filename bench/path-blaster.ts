/**
 * The sending side of bench:path's loopback absorption run, in its own process so that
 * the agent's process spends CPU on receiving only: it sends the sealed datagrams it is
 * given to the agent, in sendmmsg batches as fast as the kernel takes them, for a while,
 * and drains the agent's acks (every member's address is this socket's).
 *
 * IPC: it says { type: 'ready', address }; it gets { type: 'blast', to, datagrams
 * (base64), durationMs } and answers { type: 'done', sent, acks }, as often as asked; it
 * exits when the parent disconnects. A blast without datagrams sends the last ones given
 * (bench/path-agent.ts gives them once, so that its heap windows do not count the IPC
 * message's serialisation).
 */
import { NativeUdpSocket } from '../src/node/native/native-udp-socket.js';

interface Blast {
  readonly type: 'blast';
  readonly to: string;
  readonly datagrams?: string[];
  readonly durationMs: number;
}

const kBatchDatagrams = 64;
/** Batches between two yields to the event loop (to read acks and IPC). */
const kBatchesPerTurn = 4;

let acks = 0;
const socket = NativeUdpSocket.open({ host: '127.0.0.1', port: 0, flushMode: 'manual', socketBufferBytes: 8 << 20 }, { onMessage: () => acks++ });

let datagrams: Uint8Array[] = [];

process.on('message', (message: Blast) => {
  if (message.type !== 'blast') return;
  if (message.datagrams !== undefined) datagrams = message.datagrams.map((text) => new Uint8Array(Buffer.from(text, 'base64')));
  if (datagrams.length === 0) throw new Error('path-blaster: a blast before any datagrams were given');
  const endMs = performance.now() + message.durationMs;
  let sent = 0;
  let next = 0;
  const turn = (): void => {
    for (let batch = 0; batch < kBatchesPerTurn; batch++) {
      for (let i = 0; i < kBatchDatagrams; i++) {
        socket.send(message.to, datagrams[next]!);
        next = (next + 1) % datagrams.length;
      }
      sent += socket.flush();
    }
    if (performance.now() < endMs) setImmediate(turn);
    else process.send!({ type: 'done', sent, acks });
  };
  turn();
});

process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready', address: socket.localAddress });
