/**
 * The FMIDB's messages, as the agent carries them in datagrams and stream frames (it
 * adds its own envelope and seal around them). Little-endian throughout; varints are
 * base 128, least significant group first, at most 8 bytes, below 2^53. Zigzag varints
 * map n to 2n (n >= 0) or -2n - 1.
 *
 * ONLY APPEND TO THESE LISTS! The numeric values are part of the protocol itself.
 *
 * Header, every message (kMessageHeaderBytes):
 *   u8  kWireMagic
 *   u8  kWireVersion
 *   u8  type            kType*
 *   u8  flags           per type
 *   u32 checksum        the datagram checksum (wire/checksum.ts) of every byte after it
 *
 * DIGEST: "these are versions I hold" (an announcement of what the sender learned since
 * its last round, or with kDigestFlagFull everything it holds: a full sync, sent in
 * one stream frame). REQUEST: "send me what you hold of these origins past these
 * versions" (a pull). Both have the digest body of layout.ts:
 *   u16 count, f64 base, count x { u16 fpHigh, u32 fpLow, varint v }
 *   v = 0: the sender holds nothing of that origin; else version = base + v - 1.
 *
 * DELTA: what a peer lacks, origin by origin ("groups"):
 *   u16 groupCount (>= 1), f64 base
 *   group:
 *     u16 fpHigh, u32 fpLow         the origin's fingerprint
 *     u8  groupFlags                kGroupFlag*
 *     [u8 idLength, id]             with kGroupFlagId: the origin's id (its fingerprint must match)
 *     zigzag varint                 version = base + this: the origin's version the group brings
 *     varint from                   0: the group holds every entry the sender has of the origin;
 *                                   else it holds every one with version > version - from
 *     varint entryCount
 *     entries, oldest first (versions never decrease):
 *       u8  entryFlags              kEntryFlagSubjectIsOrigin | value kind << 1 (kValue*)
 *       [u8 subjectLength, subject] unless the subject is the origin itself
 *       u8  keyLength (>= 1), key
 *       value                       kValueFloat: f64; kValueInteger: zigzag varint (a safe
 *                                   integer); kValueString: varint length, UTF-8; kValueNull: none
 *       varint age                  the entry's version = group version - age
 *
 * A receiver applies a group only when it holds the origin up to at least the group's
 * lower bound, so that it never skips an entry; it then holds the origin up to the
 * group's version. Ids travel only in a group that starts from nothing (the receiver
 * may not know the origin); later groups name it by fingerprint alone.
 */
export const kWireMagic = 0xf7;
export const kWireVersion = 1;
export const kMessageHeaderBytes = 8;
export const kChecksumOffset = 4;

export const kTypeDigest = 1;
export const kTypeRequest = 2;
export const kTypeDelta = 3;

/** DIGEST: the sender listed every origin it holds (a full sync). */
export const kDigestFlagFull = 1;

/** The group carries the origin's id. */
export const kGroupFlagId = 1;

export const kEntryFlagSubjectIsOrigin = 1;
export const kValueNull = 0;
export const kValueFloat = 1;
export const kValueInteger = 2;
export const kValueString = 3;

/** DELTA body header: u16 groupCount, f64 base. */
export const kDeltaBodyHeaderBytes = 10;
/** A group's bytes before its entries, at most: fingerprint, flags, id, three varints. */
export const kGroupHeaderBytesMax = 6 + 1 + 1 + 255 + 9 + 8 + 8;
