import { kOrderings, kReliabilities } from '../channels/channel-options.js';
import type { ChannelHeader } from '../channels/channel-header.js';
import type { Runtime } from '../runtime/runtime.js';
import { ClusterChannelsError } from './cluster-channels-error.js';
import * as L from './pack-layout.js';

/**
 * The channel pack kernels (asm/channels.ts, ts-pack-kernels.ts) driven from the
 * objects the layer and ClusterChannels hold: a scratch region of a runtime's memory
 * (the message or record list, the inputs copied in, the pack written out), and the
 * same results as cluster-channels-pack.ts's encodePack / decodePack and
 * channel-header.ts's encodeMessage, byte for byte, on either backend.
 *
 * The inputs live in the JavaScript heap, so every byte crosses into the memory once
 * (bodies, records or the pack) and a finished pack once out (the cluster core keeps
 * it for retransmission); bench:channel-pack measures whether that pays.
 */
/** A channel message not yet encoded: its header and body (never written again). */
export interface OutgoingMessage {
  readonly header: ChannelHeader;
  readonly body: Uint8Array;
}

export class PackKernel {
  private readonly list: number;
  private readonly input: number;
  private readonly output: number;
  private readonly recordsMax: number;
  private readonly messagesMax: number;

  /** The bytes of scratch a PackKernel of packBytesMax reserves (for sizing a runtime). */
  static scratchBytes(packBytesMax: number): number {
    const recordsMax = packBytesMax >>> 1;
    const messagesMax = Math.floor((packBytesMax - 1) / (L.kChannelHeaderBytes + 1));
    return Math.max(recordsMax * L.kRecordWords, messagesMax * L.kMessageWords) * 4 + 2 * packBytesMax + 24;
  }

  /** Reserves the scratch for packs of up to `packBytesMax` bytes in `runtime`'s memory. */
  constructor(private readonly runtime: Runtime, readonly packBytesMax: number) {
    if (!Number.isInteger(packBytesMax) || packBytesMax < 2) throw new RangeError(`packBytesMax must be an integer of at least 2, got ${packBytesMax}`);
    // A record is at least two bytes in a pack (a varint and a byte), a channel message 29.
    this.recordsMax = packBytesMax >>> 1;
    // The list holds recordsMax records (packRecords, unpack) or the messages of a pack
    // (packMessages: each at least a 28-byte header and a varint byte).
    this.messagesMax = Math.floor((packBytesMax - 1) / (L.kChannelHeaderBytes + 1));
    this.list = runtime.allocate(Math.max(this.recordsMax * L.kRecordWords, this.messagesMax * L.kMessageWords) * 4, 8);
    this.input = runtime.allocate(packBytesMax, 8);
    this.output = runtime.allocate(packBytesMax, 8);
  }

  get backend(): string {
    return this.runtime.kernels.backend;
  }

  /**
   * encodePack(messages.slice(from, end).map((m) => encodeMessage(m.header, m.body))),
   * written in one pass.
   */
  packMessages(messages: readonly OutgoingMessage[], from = 0, end = messages.length): Uint8Array {
    const { u8, u32 } = this.runtime.views;
    const count = end - from;
    if (count > this.messagesMax) return overflow(count);
    let at = this.input;
    const inputEnd = this.input + this.packBytesMax;
    let l = this.list >>> 2;
    for (let i = from; i < end; i++, l += L.kMessageWords) {
      const { header: h, body } = messages[i]!;
      const clockLength = h.clock.length;
      if (clockLength > 255) throw new Error(`clock of ${clockLength} entries over 255`);
      if (at + clockLength * 4 + body.length > inputEnd) return overflow(count);
      u32[l + L.kMessageKindField] = h.kind;
      u32[l + L.kMessageConfigField] = kOrderings.indexOf(h.ordering) | (kReliabilities.indexOf(h.reliability) << 3);
      u32[l + L.kMessageViewIdField] = h.viewId;
      u32[l + L.kMessageChannelIdField] = h.channelId;
      u32[l + L.kMessageSeqField] = h.seq;
      u32[l + L.kMessageFragmentField] = (h.fragmentIndex & 0xffff) | ((h.fragmentCount & 0xffff) << 16);
      u32[l + L.kMessageBytesField] = h.messageBytes;
      u32[l + L.kMessageClockLengthField] = clockLength;
      u32[l + L.kMessageClockField] = at;
      for (let c = 0; c < clockLength; c++, at += 4) u32[at >>> 2] = h.clock[c]!;
      u32[l + L.kMessageBodyField] = at;
      u32[l + L.kMessageBodyLengthField] = body.length;
      u8.set(body, at);
      at = (at + body.length + 3) & ~3;
    }
    const n = this.runtime.kernels.packMessages(this.list, count, this.output, this.packBytesMax);
    if (n < 0) return failed(n);
    return u8.slice(this.output, this.output + n);
  }

  /** encodePack(records). */
  packRecords(records: readonly Uint8Array[]): Uint8Array {
    const { u8, u32 } = this.runtime.views;
    const count = records.length;
    if (count > this.recordsMax) return overflow(count);
    let at = this.input;
    const inputEnd = this.input + this.packBytesMax;
    let l = this.list >>> 2;
    for (let i = 0; i < count; i++, l += L.kRecordWords) {
      const r = records[i]!;
      if (at + r.length > inputEnd) return overflow(count);
      u32[l] = at;
      u32[l + 1] = r.length;
      u8.set(r, at);
      at += r.length;
    }
    const n = this.runtime.kernels.packRecords(this.list, count, this.output, this.packBytesMax);
    if (n < 0) return failed(n);
    return u8.slice(this.output, this.output + n);
  }

  /** decodePack(bytes, recordsMax): the records as views into `bytes`. */
  unpack(bytes: Uint8Array, recordsMax: number): Uint8Array[] {
    const { u8, u32 } = this.runtime.views;
    if (bytes.length > this.packBytesMax) throw new ClusterChannelsError('GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED', `a pack of ${bytes.length} bytes over ${this.packBytesMax}`);
    u8.set(bytes, this.input);
    const n = this.runtime.kernels.unpackRecords(this.input, bytes.length, recordsMax, this.list, this.recordsMax);
    if (n < 0) return failed(n);
    const out = new Array<Uint8Array>(n);
    let l = this.list >>> 2;
    for (let i = 0; i < n; i++, l += 2) {
      const offset = u32[l]!;
      out[i] = bytes.subarray(offset, offset + u32[l + 1]!);
    }
    return out;
  }
}

function overflow(count: number): never {
  throw new RangeError(`a pack of ${count} records does not fit the scratch`);
}

/** A negated kPackErr* as what encodePack (RangeError) or decodePack (PACK_MALFORMED) throw. */
function failed(result: number): never {
  switch (-result) {
    case L.kPackErrOverflow:
      throw new RangeError('a pack over the scratch');
    case L.kPackErrBadRecord:
      throw new RangeError('a pack record must be 1 to 268435455 bytes');
    case L.kPackErrBadClock:
      throw new Error('clock over 255 entries');
    case L.kPackErrBadTag:
      throw new ClusterChannelsError('GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED', 'a pack too short or with an unknown tag');
    case L.kPackErrTooMany:
      throw new ClusterChannelsError('GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED', 'too many records');
    case L.kPackErrBadLength:
      throw new ClusterChannelsError('GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED', 'a truncated or overlong record length');
    default:
      throw new ClusterChannelsError('GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED', 'an empty or truncated record');
  }
}
