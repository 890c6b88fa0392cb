// The Galaxy wire format, version 1: every constant both codecs share.
//
// This file is compiled twice: by tsc for the TypeScript codec and by asc for the
// AssemblyScript one (asm/ imports it by relative path). It must therefore hold only
// `export const NAME = <integer literal>;` lines whose values fit in a signed 32-bit
// integer, so that both compilers give them the same type and value.
//
// A datagram is laid out as (all integers little-endian):
//
//   0  u8  magic 'G' (0x47)
//   1  u8  magic 'X' (0x58)
//   2  u8  protocol version (1)
//   3  u8  message type (kType*); kTypeCompound carries several messages
//   4  ..  body of that type
//   n-4 u32 checksum over bytes [0, n-4) (see checksum.ts)
//
// A compound body is: u8 count (1..kCompoundPartsMax), then count times
// { u16 partLength, u8 type, body } where partLength counts the type byte and body.
// Compounds do not nest.
//
// Shared pieces of bodies:
//   ID    = u32 high, u32 low (a 64-bit node id)
//   ADDR  = u8 family (0 none, 4 IPv4, 6 IPv6), then 0, 4 or 16 address bytes, then a
//           u16 port when the family is not 0
//   ENTRY = ID, ADDR, u32 incarnation, u32 heartbeat, u8 status
//
// Bodies by type (fields in this order):
//   PING            u32 seq, ID target, ID source, ADDR source
//   INDIRECT_PING   u32 seq, u8 flags (bit 0: send nacks), ID target, ADDR target,
//                   ID source, ADDR source
//   ACK             u32 seq, ID source, u16 payload length, payload
//   NACK            u32 seq, ID source
//   SUSPECT         u32 incarnation, ID node, ID from
//   ALIVE           u32 incarnation, ID node, ADDR node, u16 meta length, meta
//   DEAD            u32 incarnation, ID node, ID from
//   JOIN            u32 incarnation, ID node, ADDR node, u16 meta length, meta
//   LEAVE           u32 incarnation, ID node
//   PUSH_PULL_DIGEST  u8 flags, u32 count, count x ENTRY
//   PUSH_PULL_STATE   u8 flags, u32 count, count x { ENTRY, u16 meta length, meta }
//   USER            u16 payload length, payload
//   PUSH_PULL_SUMMARY u8 flags, u16 bucketCount, u32 memberCount,
//                   bucketCount x u32 bucket hash; bucketCount is a power of two
//                   from 1 to kSummaryBucketsMax (else kErrBadCount)
//
// Over a stream (TCP push-pull), each frame is a u32 length followed by the same
// bytes as a datagram; only the size limit differs (kFrameBytesMax).

export const kMagic0 = 0x47;
export const kMagic1 = 0x58;
export const kProtocolVersion = 1;
export const kHeaderBytes = 4;
export const kChecksumBytes = 4;

/** Hard limit of one datagram, header and checksum included. */
export const kDatagramBytesMax = 1400;
/** Hard limit of one stream frame (push-pull state of a whole farm). */
export const kFrameBytesMax = 16777216;

// Message types. ONLY APPEND TO THIS LIST! The numeric values are part of the
// protocol itself: a node running an older release must decode what it knows.
export const kTypeInvalid = 0;
export const kTypePing = 1;
export const kTypeIndirectPing = 2;
export const kTypeAck = 3;
export const kTypeNack = 4;
export const kTypeSuspect = 5;
export const kTypeAlive = 6;
export const kTypeDead = 7;
export const kTypeJoin = 8;
export const kTypeLeave = 9;
export const kTypePushPullDigest = 10;
export const kTypePushPullState = 11;
export const kTypeUser = 12;
export const kTypeCompound = 13;
export const kTypePushPullSummary = 14;
/** One past the last known type; decoders reject types at or above it. */
export const kTypeLimit = 15;

export const kCompoundPartsMax = 64;
export const kMetaBytesMax = 512;
export const kAckPayloadBytesMax = 256;
export const kUserPayloadBytesMax = 1200;
/** Most buckets in a PUSH_PULL_SUMMARY (a power of two). */
export const kSummaryBucketsMax = 4096;

export const kFamilyNone = 0;
export const kFamilyIPv4 = 4;
export const kFamilyIPv6 = 6;

export const kIndirectPingFlagNack = 1;
export const kPushPullFlagJoin = 1;
export const kPushPullFlagReply = 2;
export const kPushPullFlagGossip = 4;
/** A state frame holding only some members (the differing buckets of a summary exchange). */
export const kPushPullFlagPartial = 8;

// Member status, as carried in ENTRY and stored in the table. Zero marks a free row.
export const kStatusEmpty = 0;
export const kStatusAlive = 1;
export const kStatusSuspect = 2;
export const kStatusDead = 3;
export const kStatusLeft = 4;
export const kStatusLimit = 5;

// Error codes of decoding and encoding. Kernels return them negated.
export const kErrTruncated = 1;
export const kErrBadMagic = 2;
export const kErrBadVersion = 3;
export const kErrBadChecksum = 4;
export const kErrUnknownType = 5;
export const kErrBadLength = 6;
export const kErrTooLarge = 7;
export const kErrBadAddress = 8;
export const kErrTapeFull = 9;
export const kErrNestedCompound = 10;
export const kErrBadStatus = 11;
export const kErrBadCount = 12;
export const kErrFieldTooLarge = 13;
export const kErrWrongType = 14;
export const kErrTableFull = 15;
export const kErrCodeLimit = 16;

// The tape: the decoded form of a datagram, and the input of the encoder. It lives in
// shared memory so that no JS object is made per message. Layout:
//   header   kTapeHeaderBytes (u32 fields below)
//   messages kTapeMessageBytes each, up to the message capacity
//   entries  kTapeEntryBytes each, up to the entry capacity
//   payload  bytes (meta and payloads), up to the payload capacity
// Fields that a message type does not carry are zero after decoding.
// Most fields mean what their names say; PUSH_PULL_SUMMARY reuses some of them:
//   kMsgFlags       = flags
//   kMsgSeq         = bucketCount
//   kMsgIncarnation = memberCount
//   payload         = the bucket hashes as raw wire bytes (u32 little-endian each),
//                     kMsgPayloadOffset / kMsgPayloadLength as for other payloads,
//                     length = 4 x bucketCount (the encoder checks it: kErrBadLength)
export const kTapeHeaderBytes = 32;
export const kTapeMessageCountField = 0;
export const kTapeEntryCountField = 1;
export const kTapePayloadUsedField = 2;
export const kTapeMessageCapacityField = 3;
export const kTapeEntryCapacityField = 4;
export const kTapePayloadCapacityField = 5;
/** Byte offset of the entry area from the start of the tape. */
export const kTapeEntriesOffsetField = 6;
/** Byte offset of the payload area from the start of the tape. */
export const kTapePayloadOffsetField = 7;

export const kTapeMessageBytes = 80;
export const kMsgType = 0; // u8
export const kMsgFlags = 1; // u8
export const kMsgFamilyA = 2; // u8, address A: the target or subject node
export const kMsgFamilyB = 3; // u8, address B: the source node
export const kMsgSeq = 4; // u32
export const kMsgIncarnation = 8; // u32
export const kMsgNodeHigh = 12; // u32, the target or subject node
export const kMsgNodeLow = 16; // u32
export const kMsgFromHigh = 20; // u32, the source node
export const kMsgFromLow = 24; // u32
export const kMsgPortA = 28; // u16
export const kMsgPortB = 30; // u16
export const kMsgAddressA = 32; // 16 bytes
export const kMsgAddressB = 48; // 16 bytes
export const kMsgPayloadOffset = 64; // u32, from the start of the tape payload area
export const kMsgPayloadLength = 68; // u32
export const kMsgEntryStart = 72; // u32
export const kMsgEntryCount = 76; // u32

export const kTapeEntryBytes = 48;
export const kEntryIdHigh = 0; // u32
export const kEntryIdLow = 4; // u32
export const kEntryIncarnation = 8; // u32
export const kEntryHeartbeat = 12; // u32
export const kEntryStatus = 16; // u8
export const kEntryFamily = 17; // u8
export const kEntryPort = 18; // u16
export const kEntryAddress = 20; // 16 bytes
export const kEntryMetaOffset = 36; // u32
export const kEntryMetaLength = 40; // u32
