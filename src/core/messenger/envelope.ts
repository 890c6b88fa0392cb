import { MessengerError } from './messenger-error.js';

/**
 * The messenger's envelope: the first bytes of every application message's plaintext,
 * inside the farm-key seal (keyring.ts), so AES-GCM authenticates the sender id with
 * the rest: a node without a farm key can neither forge nor alter it.
 *
 *   offset  size  field
 *   0       1     version (kEnvelopeVersion)
 *   1       1     delivery mode (1 datagram, 2 stream, 3 broadcast)
 *   2       2     channel id, u16 little-endian (channel-table.ts)
 *   4       8     sender node id, big-endian (the 16 hex digits as bytes)
 *   12      …     the channel's payload, as its codec wrote it
 *
 * The version byte is also how the agent worker tells application messages from
 * membership traffic: the membership wire format starts with its own version, 1.
 */
export const kEnvelopeVersion = 0x81;
export const kEnvelopeHeaderBytes = 12;
const kSenderBytes = 8;

/** ONLY APPEND: the numeric values are part of the protocol. */
export const kModeDatagram = 1;
export const kModeStream = 2;
export const kModeBroadcast = 3;

export type DeliveryMode = 'datagram' | 'stream' | 'broadcast';

const kModeByName: Readonly<Record<DeliveryMode, number>> = { datagram: kModeDatagram, stream: kModeStream, broadcast: kModeBroadcast };
const kModeNames: readonly (DeliveryMode | undefined)[] = [undefined, 'datagram', 'stream', 'broadcast'];

export interface Envelope {
  readonly mode: DeliveryMode;
  readonly channelId: number;
  /** The sender's node id, 16 lower-case hex digits. */
  readonly sender: string;
  /** A view into the decoded bytes (not a copy). */
  readonly payload: Uint8Array;
}

const kNodeIdPattern = /^[0-9a-f]{16}$/;
/** Two hex digits per byte value: the sender id is read on every message, so without parsing or padding. */
const kHexByte: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The value of one lower-case hex digit's character code (the id was checked by kNodeIdPattern). */
function nibble(code: number): number {
  return code <= 0x39 ? code - 0x30 : code - 0x57;
}

/** Writes header and payload into one new buffer. Throws RangeError on a bad argument: a caller bug. */
export function encodeEnvelope(mode: DeliveryMode, channelId: number, sender: string, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(channelId) || channelId < 1 || channelId > 0xffff) throw new RangeError(`channel id must be 1 to 65535, got ${channelId}`);
  if (!kNodeIdPattern.test(sender)) throw new RangeError(`sender must be 16 lower-case hex digits, got ${JSON.stringify(sender)}`);
  const out = new Uint8Array(kEnvelopeHeaderBytes + payload.length);
  out[0] = kEnvelopeVersion;
  out[1] = kModeByName[mode];
  out[2] = channelId & 0xff;
  out[3] = channelId >>> 8;
  for (let i = 0; i < kSenderBytes; i++) out[4 + i] = (nibble(sender.charCodeAt(i * 2)) << 4) | nibble(sender.charCodeAt(i * 2 + 1));
  out.set(payload, kEnvelopeHeaderBytes);
  return out;
}

/** Whether the plaintext is an envelope at all (its first byte), without parsing it. */
export function isEnvelope(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === kEnvelopeVersion;
}

/** Parses an envelope; throws MessengerError with a stable code on anything malformed. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length < kEnvelopeHeaderBytes) throw new MessengerError('GALAXY_MESSENGER_SHORT', `an envelope has ${kEnvelopeHeaderBytes} header bytes, got ${bytes.length} bytes`);
  if (bytes[0] !== kEnvelopeVersion) throw new MessengerError('GALAXY_MESSENGER_VERSION', `envelope version ${bytes[0]} is not ${kEnvelopeVersion}`);
  const mode = kModeNames[bytes[1]!];
  if (mode === undefined) throw new MessengerError('GALAXY_MESSENGER_MODE', `delivery mode ${bytes[1]} is unknown`);
  const channelId = bytes[2]! | (bytes[3]! << 8);
  if (channelId === 0) throw new MessengerError('GALAXY_MESSENGER_UNKNOWN_CHANNEL', 'channel id 0 is never assigned');
  let sender = '';
  for (let i = 0; i < kSenderBytes; i++) sender += kHexByte[bytes[4 + i]!]!;
  // Id 0 is what an uninitialised buffer holds: no node has it.
  if (sender === '0000000000000000') throw new MessengerError('GALAXY_MESSENGER_SENDER', 'sender id 0 is never assigned');
  return { mode, channelId, sender, payload: bytes.subarray(kEnvelopeHeaderBytes) };
}
