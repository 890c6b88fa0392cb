// The shapes in shared memory that the channel pack kernels read and write
// (asm/channels.ts and ts-pack-kernels.ts): the one definition both use.
//
// Like src/core/table/layout.ts this file is compiled by both tsc and asc, so it holds
// only `export const NAME = <integer literal>;` lines within the signed 32-bit range.
//
// A pack is cluster-channels-pack.ts's: u8 'P' then records of (LEB128 length, bytes).
//
// packRecords reads a record list: per record two u32 words, the record's pointer and
// its length. packMessages reads a message list: per channel message kMessageWords u32
// words, the fields of channel-header.ts's 28-byte header, where its body lies and
// where its vector clock lies, and writes each as a record (header, clock, body) of the
// pack, byte for byte what encodePack([encodeMessage(header, body), ...]) gives.
// unpackRecords writes per record two u32 words, its offset from the pack's start and
// its length, what decodePack's views cover.

export const kPackTagByte = 0x50;
export const kChannelHeaderBytes = 28;
export const kChannelHeaderVersion = 1;

/** u32 words per record of a record list (packRecords) and of unpackRecords' output. */
export const kRecordWords = 2;

/** u32 words per message of a message list (packMessages), and each word's index. */
export const kMessageWords = 11;
export const kMessageKindField = 0;
/** The header's config byte: ordering bits 0-2, reliability bit 3. */
export const kMessageConfigField = 1;
export const kMessageViewIdField = 2;
export const kMessageChannelIdField = 3;
export const kMessageSeqField = 4;
/** fragmentIndex in the low 16 bits, fragmentCount in the high 16 bits. */
export const kMessageFragmentField = 5;
export const kMessageBytesField = 6;
/** clockLength in the low 8 bits; the clock's u32 entries lie at kMessageClockField's pointer. */
export const kMessageClockLengthField = 7;
export const kMessageClockField = 8;
export const kMessageBodyField = 9;
export const kMessageBodyLengthField = 10;

// Negated results (ONLY APPEND).
/** The pack does not fit the output's limit. */
export const kPackErrOverflow = 1;
/** A record of 0 bytes or of 2^28 bytes or more. */
export const kPackErrBadRecord = 2;
/** Under 2 bytes, or a first byte other than 'P'. */
export const kPackErrBadTag = 3;
/** A record length truncated or over four varint bytes. */
export const kPackErrBadLength = 4;
/** A record of length 0 or running past the end. */
export const kPackErrTruncated = 5;
/** More records than the caller's bound (recordsMax or the output's capacity). */
export const kPackErrTooMany = 6;
/** A clock of more than 255 entries. */
export const kPackErrBadClock = 7;
