import { parseSocketAddress } from '../transport/socket-address.js';

/**
 * The datagram a controller sends to the discovery multicast group (multicast-discovery.ts):
 * one line of printable ASCII, `GXD1 ca=<farm CA fingerprint> gossip=<address>`, e.g.
 * `GXD1 ca=0123456789abcdef gossip=10.77.0.1:7946`. It is not sealed: a new node in
 * admission mode holds no farm key yet, so it could not check a seal, and it needs none,
 * since an announcement only names a seed to ask; admission itself proves the farm (the
 * grant is signed by the authority the node pins with --farm-ca, or trusts on first use).
 * So the codec is strict instead: exact syntax, bounded size, a canonical address, and
 * every other datagram is refused with a reason the listener counts.
 */
export interface Announcement {
  /** The fingerprint of the farm authority (16 lowercase hex digits, as --farm-ca takes it). */
  readonly farmCa: string;
  /** The controller's gossip address, canonical ("a.b.c.d:port" or "[v6]:port"); may be a wildcard the listener replaces by the sender's. */
  readonly gossip: string;
}

/** An announcement is never longer: the longest valid one (a full IPv6 address) is 78 bytes. */
export const kAnnouncementBytesMax = 128;
const kMagic = 'GXD1';
const kPattern = /^GXD1 ca=([0-9a-f]{16}) gossip=(\S{1,64})$/;

export type DecodedAnnouncement = { readonly ok: true; readonly announcement: Announcement } | { readonly ok: false; readonly reason: 'oversize' | 'malformed' };

export function encodeAnnouncement(announcement: Announcement): Buffer {
  const text = `${kMagic} ca=${announcement.farmCa} gossip=${announcement.gossip}`;
  const decoded = decodeAnnouncement(Buffer.from(text, 'latin1'));
  // The sender checks its own datagram with the receiver's rules: a bad fingerprint or
  // address is a programming error here, not something to put on the wire.
  if (!decoded.ok) throw new RangeError(`not a valid announcement: "${text}"`);
  return Buffer.from(text, 'latin1');
}

export function decodeAnnouncement(bytes: Uint8Array): DecodedAnnouncement {
  if (bytes.length > kAnnouncementBytesMax) return { ok: false, reason: 'oversize' };
  for (const byte of bytes) if (byte < 0x20 || byte > 0x7e) return { ok: false, reason: 'malformed' };
  const match = kPattern.exec(Buffer.from(bytes).toString('latin1'));
  if (match === null) return { ok: false, reason: 'malformed' };
  const address = parseSocketAddress(match[2]!);
  // Only the canonical spelling: two spellings of one address would be two seeds.
  if (address === null || address.text !== match[2]) return { ok: false, reason: 'malformed' };
  return { ok: true, announcement: { farmCa: match[1]!, gossip: address.text } };
}
