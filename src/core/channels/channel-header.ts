import { ChannelError } from './channel-error.js';
import { kOrderings, kReliabilities, type Ordering, type Reliability } from './channel-options.js';

/**
 * The binary form of every channel message, one VS multicast (or best-effort datagram)
 * each. Little-endian, 28 bytes of fixed header, then the causal vector clock (4 bytes
 * per view member, causal channels only), then the body:
 *
 *   0  u8  version (1)             12 u32 seq (data: sender's message number in the view;
 *   1  u8  kind                           order: the sequencer's order-message number)
 *   2  u8  config: ordering bits 0-2,  16 u16 fragmentIndex
 *          reliability bit 3            18 u16 fragmentCount
 *   3  u8  flags (0)                   20 u32 messageBytes (data: the whole message's size)
 *   4  u32 viewId                      24 u8  clockLength (entries of the vector clock)
 *   8  u32 channelId                   25 u8[3] reserved (0)
 *
 * Bodies: data, a slice of the message (every fragment but the last is exactly
 * fragmentBytes long); order, u16 count then count × (u16 senderRank, u32 seq); feedback,
 * u8 count then count × (u32 received, u32 consumed) by sender rank, then u32
 * orderReceived; open, the channel's name in UTF-8 (at most kNameBytesMax bytes).
 */

// ONLY APPEND TO THIS LIST! The numeric values are part of the protocol itself.
export const kKindData = 1;
export const kKindOrder = 2;
export const kKindFeedback = 3;
export const kKindOpen = 4;
const kKindLimit = 5;

export const kHeaderVersion = 1;
export const kHeaderBytes = 28;
export const kNameBytesMax = 200;
/** A view holds at most this many members (the clock length and the feedback count are one byte). */
export const kViewMembersMax = 255;

export interface ChannelHeader {
  kind: number;
  ordering: Ordering;
  reliability: Reliability;
  viewId: number;
  channelId: number;
  seq: number;
  fragmentIndex: number;
  fragmentCount: number;
  messageBytes: number;
  /** The vector clock (causal data only), else empty. */
  clock: readonly number[];
}

/** The bounds a decoder holds input to; they must agree across the cluster. */
export interface HeaderLimits {
  messageBytesMax: number;
  fragmentBytes: number;
}

export interface DecodedMessage {
  header: ChannelHeader;
  /** A view into the input: copy before keeping it beyond the step. */
  body: Uint8Array;
}

/** Writes header and body into one new buffer. */
export function encodeMessage(header: ChannelHeader, body: Uint8Array): Uint8Array {
  const clockLength = header.clock.length;
  if (clockLength > kViewMembersMax) throw new Error(`clock of ${clockLength} entries over ${kViewMembersMax}`);
  const bytes = new Uint8Array(kHeaderBytes + clockLength * 4 + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, kHeaderVersion);
  view.setUint8(1, header.kind);
  view.setUint8(2, kOrderings.indexOf(header.ordering) | (kReliabilities.indexOf(header.reliability) << 3));
  view.setUint32(4, header.viewId, true);
  view.setUint32(8, header.channelId, true);
  view.setUint32(12, header.seq, true);
  view.setUint16(16, header.fragmentIndex, true);
  view.setUint16(18, header.fragmentCount, true);
  view.setUint32(20, header.messageBytes, true);
  view.setUint8(24, clockLength);
  for (let i = 0; i < clockLength; i++) view.setUint32(kHeaderBytes + i * 4, header.clock[i]!, true);
  bytes.set(body, kHeaderBytes + clockLength * 4);
  return bytes;
}

/** The fragments a message of messageBytes is cut into (at least one, for an empty message). */
export function fragmentCountOf(messageBytes: number, fragmentBytes: number): number {
  return Math.max(1, Math.ceil(messageBytes / fragmentBytes));
}

/** Reads and checks one message; throws a ChannelError on anything malformed. */
export function decodeMessage(bytes: Uint8Array, limits: HeaderLimits): DecodedMessage {
  const fail = (code: ConstructorParameters<typeof ChannelError>[0], why: string): never => {
    throw new ChannelError(code, why);
  };
  if (bytes.length < kHeaderBytes) fail('GALAXY_CHANNEL_TRUNCATED', `${bytes.length} bytes, a header needs ${kHeaderBytes}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(0) !== kHeaderVersion) fail('GALAXY_CHANNEL_BAD_VERSION', `version ${view.getUint8(0)}`);
  const kind = view.getUint8(1);
  if (kind === 0 || kind >= kKindLimit) fail('GALAXY_CHANNEL_BAD_KIND', `kind ${kind}`);
  const config = view.getUint8(2);
  const ordering = kOrderings[config & 7];
  const reliability = kReliabilities[(config >> 3) & 1];
  if (ordering === undefined || reliability === undefined || config >> 4 !== 0) fail('GALAXY_CHANNEL_BAD_CONFIG', `config byte ${config}`);
  if (view.getUint8(3) !== 0 || view.getUint8(25) !== 0 || view.getUint16(26, true) !== 0) fail('GALAXY_CHANNEL_BAD_FLAGS', 'flags or reserved bytes set');
  const clockLength = view.getUint8(24);
  const bodyOffset = kHeaderBytes + clockLength * 4;
  if (bytes.length < bodyOffset) fail('GALAXY_CHANNEL_TRUNCATED', `clock of ${clockLength} entries does not fit`);
  const header: ChannelHeader = {
    kind, ordering: ordering!, reliability: reliability!,
    viewId: view.getUint32(4, true), channelId: view.getUint32(8, true), seq: view.getUint32(12, true),
    fragmentIndex: view.getUint16(16, true), fragmentCount: view.getUint16(18, true), messageBytes: view.getUint32(20, true),
    clock: readClock(view, clockLength),
  };
  const body = bytes.subarray(bodyOffset);
  if (kind === kKindData) checkData(header, body.length, limits, fail);
  else if (header.fragmentIndex !== 0 || header.fragmentCount !== 1 || header.messageBytes !== 0 || clockLength !== 0) {
    fail('GALAXY_CHANNEL_BAD_FRAGMENT', 'control messages are one fragment without a clock');
  }
  return { header, body };
}

function readClock(view: DataView, length: number): number[] {
  const clock = new Array<number>(length);
  for (let i = 0; i < length; i++) clock[i] = view.getUint32(kHeaderBytes + i * 4, true);
  return clock;
}

function checkData(header: ChannelHeader, bodyBytes: number, limits: HeaderLimits, fail: (code: 'GALAXY_CHANNEL_TOO_LARGE' | 'GALAXY_CHANNEL_BAD_FRAGMENT' | 'GALAXY_CHANNEL_BAD_LENGTH' | 'GALAXY_CHANNEL_BAD_CONFIG', why: string) => never): void {
  if (header.messageBytes > limits.messageBytesMax) fail('GALAXY_CHANNEL_TOO_LARGE', `message of ${header.messageBytes} bytes over ${limits.messageBytesMax}`);
  const count = fragmentCountOf(header.messageBytes, limits.fragmentBytes);
  if (header.fragmentCount !== count) fail('GALAXY_CHANNEL_BAD_FRAGMENT', `${header.fragmentCount} fragments for ${header.messageBytes} bytes, expected ${count}`);
  if (header.fragmentIndex >= count) fail('GALAXY_CHANNEL_BAD_FRAGMENT', `fragment ${header.fragmentIndex} of ${count}`);
  const expected = header.fragmentIndex < count - 1 ? limits.fragmentBytes : header.messageBytes - limits.fragmentBytes * (count - 1);
  if (bodyBytes !== expected) fail('GALAXY_CHANNEL_BAD_LENGTH', `fragment body of ${bodyBytes} bytes, expected ${expected}`);
  if (header.seq === 0) fail('GALAXY_CHANNEL_BAD_FRAGMENT', 'data seq starts at 1');
  if ((header.ordering === 'causal') !== (header.clock.length > 0)) fail('GALAXY_CHANNEL_BAD_CONFIG', 'a vector clock comes with causal data only');
}

// ---- Control bodies -------------------------------------------------------------------

export interface OrderEntry {
  senderRank: number;
  seq: number;
}

export function encodeOrderBody(entries: readonly OrderEntry[]): Uint8Array {
  if (entries.length > 0xffff) throw new Error(`${entries.length} order entries over 65535`);
  const bytes = new Uint8Array(2 + entries.length * 6);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, entries.length, true);
  entries.forEach((e, i) => {
    view.setUint16(2 + i * 6, e.senderRank, true);
    view.setUint32(4 + i * 6, e.seq, true);
  });
  return bytes;
}

export function decodeOrderBody(body: Uint8Array): OrderEntry[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 2 || body.length !== 2 + view.getUint16(0, true) * 6) throw new ChannelError('GALAXY_CHANNEL_BAD_BODY', 'order body length disagrees with its count');
  const entries: OrderEntry[] = [];
  for (let at = 2; at < body.length; at += 6) entries.push({ senderRank: view.getUint16(at, true), seq: view.getUint32(at + 2, true) });
  return entries;
}

export interface Feedback {
  /** By sender rank: data messages received from it in this view (for stability). */
  received: readonly number[];
  /** By sender rank: its messages consumed by this member's application (credit). */
  consumed: readonly number[];
  /** Order messages received from the sequencer in this view. */
  orderReceived: number;
}

export function encodeFeedbackBody(feedback: Feedback): Uint8Array {
  const count = feedback.received.length;
  if (count > kViewMembersMax || feedback.consumed.length !== count) throw new Error('feedback vectors of bad length');
  const bytes = new Uint8Array(1 + count * 8 + 4);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, count);
  for (let i = 0; i < count; i++) {
    view.setUint32(1 + i * 8, feedback.received[i]!, true);
    view.setUint32(5 + i * 8, feedback.consumed[i]!, true);
  }
  view.setUint32(1 + count * 8, feedback.orderReceived, true);
  return bytes;
}

export function decodeFeedbackBody(body: Uint8Array): Feedback {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 5 || body.length !== 1 + view.getUint8(0) * 8 + 4) throw new ChannelError('GALAXY_CHANNEL_BAD_BODY', 'feedback body length disagrees with its count');
  const count = view.getUint8(0);
  const received: number[] = [];
  const consumed: number[] = [];
  for (let i = 0; i < count; i++) {
    received.push(view.getUint32(1 + i * 8, true));
    consumed.push(view.getUint32(5 + i * 8, true));
  }
  return { received, consumed, orderReceived: view.getUint32(1 + count * 8, true) };
}

const kEncoder = new TextEncoder();
const kDecoder = new TextDecoder('utf-8', { fatal: true });

export function encodeOpenBody(name: string): Uint8Array {
  const bytes = kEncoder.encode(name);
  if (bytes.length === 0 || bytes.length > kNameBytesMax) throw new ChannelError('GALAXY_CHANNEL_BAD_OPTIONS', `a channel name is 1 to ${kNameBytesMax} bytes of UTF-8`);
  return bytes;
}

export function decodeOpenBody(body: Uint8Array): string {
  if (body.length === 0 || body.length > kNameBytesMax) throw new ChannelError('GALAXY_CHANNEL_BAD_BODY', `channel name of ${body.length} bytes`);
  try {
    return kDecoder.decode(body);
  } catch {
    throw new ChannelError('GALAXY_CHANNEL_BAD_BODY', 'channel name is not UTF-8');
  }
}

/** The channel id of a name: FNV-1a over its UTF-8 bytes (a collision is refused at open). */
export function channelIdOf(name: string): number {
  let hash = 0x811c9dc5;
  for (const byte of kEncoder.encode(name)) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}
