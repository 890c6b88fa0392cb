/**
 * The other side of bench:path's main-thread rows, in its own process so that the agent's
 * process spends CPU on the agent only: it speaks for `members` members that exist only
 * in its table (each with its own loopback address 127.1.x.y on a port nobody binds, so
 * the agent's probes of them draw ICMP port unreachables), in the plain wire format of an
 * insecure farm.
 *
 * IPC: it says { type: 'ready' }; { type: 'join', to, members } announces every member
 * (ALIVE, as many as fit a compound datagram) and answers { type: 'joined', datagrams };
 * { type: 'churn', to, perSecond, durationMs } sends one-part datagrams at that pace,
 * alternately a SUSPECT of the next member (said by another) and its refutation (ALIVE at
 * the next incarnation): each one membership event at the agent; it answers
 * { type: 'churned', sent }. It exits when the parent disconnects.
 */
import { createSocket } from 'node:dgram';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { kLanConfig } from '../src/core/membership/config.js';
import { MessageParts } from '../src/core/membership/message-parts.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import { assembleParts } from '../src/core/wire/compound.js';
import * as F from '../src/core/wire/format.js';
import { parseWireAddress } from '../src/core/wire/message.js';
import { encodeMeta } from '../src/node/driver/agent-meta.js';

type Command = { type: 'join'; to: string; members: number } | { type: 'churn'; to: string; perSecond: number; durationMs: number };

const kPartsPerJoinDatagramMax = 40;
/** Room for the compound's parts in one datagram (its header and checksum take the rest). */
const kJoinBodyBytesMax = F.kDatagramBytesMax - 64;
/** The port the swarm's members "listen" on: nobody binds it on this machine's loopback. */
const kDeadPort = 9;
/** Every churn datagram names members at most this many turns apart, so the pace holds on a busy machine. */
const kTickMs = 10;

const runtime = createRuntime({ backend: 'ts', memoryBytes: 32 << 20 });
const table = MembershipTable.create(runtime, 16_384);
const parts = new MessageParts(runtime, 64);
const packet = runtime.allocate(F.kDatagramBytesMax + 64, 8);
const socket = createSocket('udp4');
// The tags a real agent announces (its roles and component kinds).
const meta = encodeMeta({ components: 'measurement,events,jobs,scripts', roles: 'worker' }, kLanConfig.metaBytesMax);
const rows: number[] = [];
const incarnations: number[] = [];
let next = 0;
let suspectNext = true;

function datagram(list: readonly Uint8Array[]): Buffer {
  const length = assembleParts(runtime, packet, list, F.kDatagramBytesMax);
  if (length < 0) throw new Error(`assembling a swarm datagram failed: ${length}`);
  return Buffer.from(runtime.views.u8.slice(packet, packet + length));
}

function send(to: string, bytes: Buffer): void {
  const address = parseWireAddress(to);
  socket.send(bytes, address.port, `${address.bytes[0]}.${address.bytes[1]}.${address.bytes[2]}.${address.bytes[3]}`);
}

function join(to: string, members: number): number {
  for (let i = rows.length; i < members; i++) {
    rows.push(table.upsert({ high: 0x2000 + (i >>> 16), low: (i * 2654435761) >>> 0 }, parseWireAddress(`127.1.${(i >> 8) & 255}.${i & 255}:${kDeadPort}`), 1, F.kStatusAlive, 0));
    incarnations.push(1);
  }
  let sent = 0;
  let list: Uint8Array[] = [];
  let bytes = 0;
  for (let j = 0; j < members; j++) {
    const part = parts.announcement(F.kTypeAlive, incarnations[j]!, table, rows[j]!, meta);
    if (list.length === kPartsPerJoinDatagramMax || bytes + part.length + 2 > kJoinBodyBytesMax) {
      send(to, datagram(list));
      sent++;
      list = [];
      bytes = 0;
    }
    list.push(part);
    bytes += part.length + 2;
  }
  if (list.length > 0) {
    send(to, datagram(list));
    sent++;
  }
  return sent;
}

/** The next churn datagram: a SUSPECT of member `next` at its incarnation, then its ALIVE at the next one. */
function churnDatagram(): Buffer {
  const i = next;
  if (suspectNext) {
    suspectNext = false;
    return datagram([parts.accusation(F.kTypeSuspect, incarnations[i]!, table, rows[i]!, rows[(i + 1) % rows.length]!)]);
  }
  suspectNext = true;
  next = (next + 1) % rows.length;
  incarnations[i] = incarnations[i]! + 1;
  return datagram([parts.announcement(F.kTypeAlive, incarnations[i]!, table, rows[i]!, meta)]);
}

function churn(to: string, perSecond: number, durationMs: number): Promise<number> {
  const startMs = performance.now();
  let sent = 0;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsedMs = performance.now() - startMs;
      const due = Math.min(Math.floor((elapsedMs * perSecond) / 1000), Math.floor((durationMs * perSecond) / 1000));
      while (sent < due) {
        send(to, churnDatagram());
        sent++;
      }
      if (elapsedMs >= durationMs) {
        clearInterval(timer);
        resolve(sent);
      }
    }, kTickMs);
  });
}

process.on('message', (command: Command) => {
  if (command.type === 'join') process.send!({ type: 'joined', datagrams: join(command.to, command.members) });
  else void churn(command.to, command.perSecond, command.durationMs).then((sent) => process.send!({ type: 'churned', sent }));
});
process.on('disconnect', () => {
  socket.close();
  process.exit(0);
});
socket.bind(0, '127.0.0.1', () => process.send!({ type: 'ready' }));
