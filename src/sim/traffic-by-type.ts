import * as F from '../core/wire/format.js';

/** Names of the message types, for reports; index = kType*. */
export const kMessageTypeNames: readonly string[] = [
  'invalid', 'ping', 'indirect-ping', 'ack', 'nack', 'suspect', 'alive', 'dead', 'join', 'leave',
  'push-pull-digest', 'push-pull-state', 'user', 'compound', 'push-pull-summary',
];

/** One row of a breakdown: what one message type cost, over datagrams or frames. */
export interface TrafficRow {
  type: string;
  messages: number;
  bytes: number;
}

/**
 * Bytes and messages sent, by message type, over datagrams and over frames separately.
 * A compound datagram is split into its parts (each part's length is charged to its own
 * type, so a suspicion riding on a probe counts as a suspicion), and the header, count
 * byte and checksum go to 'overhead'. It reads the wire format only, never an engine's
 * state, so it can sit under any simulated process: it is how the scale benchmark says
 * which kind of message a scenario's traffic is made of.
 */
export class TrafficByType {
  /** [type] → messages and bytes; index kTypeLimit is the per-packet overhead. */
  readonly datagramMessages = new Float64Array(F.kTypeLimit + 1);
  readonly datagramBytes = new Float64Array(F.kTypeLimit + 1);
  readonly frameMessages = new Float64Array(F.kTypeLimit + 1);
  readonly frameBytes = new Float64Array(F.kTypeLimit + 1);

  recordDatagram(bytes: Uint8Array): void {
    tally(bytes, this.datagramMessages, this.datagramBytes);
  }

  recordFrame(bytes: Uint8Array): void {
    tally(bytes, this.frameMessages, this.frameBytes);
  }

  reset(): void {
    for (const a of [this.datagramMessages, this.datagramBytes, this.frameMessages, this.frameBytes]) a.fill(0);
  }

  /** Total bytes counted, datagrams and frames. */
  totalBytes(): number {
    let total = 0;
    for (let i = 0; i <= F.kTypeLimit; i++) total += this.datagramBytes[i]! + this.frameBytes[i]!;
    return total;
  }

  /** Non-empty rows, largest first; 'frame:' prefixes the types sent over streams. */
  rows(): TrafficRow[] {
    const rows: TrafficRow[] = [];
    for (let i = 0; i <= F.kTypeLimit; i++) {
      const name = i === F.kTypeLimit ? 'overhead' : kMessageTypeNames[i]!;
      if (this.datagramBytes[i]! > 0) rows.push({ type: name, messages: this.datagramMessages[i]!, bytes: this.datagramBytes[i]! });
      if (this.frameBytes[i]! > 0) rows.push({ type: `frame:${name}`, messages: this.frameMessages[i]!, bytes: this.frameBytes[i]! });
    }
    return rows.sort((a, b) => b.bytes - a.bytes);
  }
}

function tally(bytes: Uint8Array, messages: Float64Array, counted: Float64Array): void {
  const overhead = F.kTypeLimit;
  const n = bytes.length;
  if (n < F.kHeaderBytes + F.kChecksumBytes || bytes[0] !== F.kMagic0 || bytes[1] !== F.kMagic1) {
    counted[overhead]! += n;
    return;
  }
  const type = bytes[3]!;
  if (type !== F.kTypeCompound) {
    const t = type < F.kTypeLimit ? type : F.kTypeInvalid;
    messages[t]!++;
    counted[t]! += n - F.kHeaderBytes - F.kChecksumBytes;
    counted[overhead]! += F.kHeaderBytes + F.kChecksumBytes;
    return;
  }
  // Compound: u8 count, then { u16 partLength, u8 type, body }; the u16 is overhead.
  const end = n - F.kChecksumBytes;
  let at = F.kHeaderBytes + 1;
  let charged = 0;
  const count = bytes[F.kHeaderBytes]!;
  for (let i = 0; i < count && at + 3 <= end; i++) {
    const partLength = bytes[at]! | (bytes[at + 1]! << 8);
    const partType = bytes[at + 2]!;
    const t = partType < F.kTypeLimit ? partType : F.kTypeInvalid;
    const length = Math.min(partLength, end - at - 2);
    messages[t]!++;
    counted[t]! += length;
    charged += length;
    at += 2 + partLength;
  }
  counted[overhead]! += n - charged;
}
