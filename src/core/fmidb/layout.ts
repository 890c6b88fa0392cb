// The FMIDB's shapes in shared memory and on the wire that the digest-compare kernels
// read: the origin registry, a replica's version column, the digest body and the
// kernel's output records. The one definition that src/fmidb/*.ts and asm/fmidb.ts use.
//
// Like src/table/layout.ts this file is compiled by both tsc and asc, so it holds only
// `export const NAME = <integer literal>;` lines within the signed 32-bit range.
//
// The origin registry maps an origin's 48-bit fingerprint (fingerprint.ts) to a row.
// It is a struct of arrays behind a header of u32 fields; the *Offset fields hold the
// byte offset of each column from the registry base:
//   fpHigh   u32   the fingerprint's high 16 bits; kRowFree set on a released row
//   fpLow    u32   its low 32 bits; on a released row, the next free row + 1
//   seen     u32   the compare epoch that last listed this row (full digests only)
//   slots    i32   open-addressing index from fingerprint to row + 1 (0 = empty)
//
// A replica's version column is an f64 per registry row, kept apart from the registry
// so that the simulator can give thousands of replicas one registry: -1 means this
// replica holds nothing of that origin. Versions are hybrid-clock stamps (integers
// below 2^53, see hybrid-clock.ts).

export const kRegistryMagic = 0x524f4d46; // 'FMOR' read as little-endian u32
export const kRegistryLayoutVersion = 1;
export const kRegistryHeaderBytes = 64;

export const kRegistryMagicField = 0;
export const kRegistryVersionField = 1;
export const kRegistryCapacityField = 2;
/** Rows ever handed out (the high-water mark); rows below it may be free. */
export const kRegistryRowCountField = 3;
export const kRegistrySlotCountField = 4;
/** Head of the free-row list plus one (0 = empty); the list runs through the fpLow column. */
export const kRegistryFreeHeadField = 5;
export const kRegistryFreeCountField = 6;
/** Bumped by every compare of a full digest; rows it lists get it in the seen column. */
export const kRegistryEpochField = 7;
export const kRegistryFpHighOffsetField = 8;
export const kRegistryFpLowOffsetField = 9;
export const kRegistrySeenOffsetField = 10;
export const kRegistrySlotsOffsetField = 11;
export const kRegistryTotalBytesField = 12;
export const kRegistryFieldCount = 13;

/** Set in the fpHigh column of a released row (live rows hold 16 bits). */
export const kRowFree = -2147483648; // 0x80000000 as a signed 32-bit integer
/** Fingerprints have 48 bits: 16 in fpHigh, 32 in fpLow. */
export const kFingerprintHighMask = 0xffff;

// A digest body (DIGEST and REQUEST messages, after the 8-byte message header):
//   u16  count
//   f64  base          an integer in [0, 2^53)
//   count entries of:
//     u16 fpHigh, u32 fpLow      the origin's fingerprint (6 bytes, little-endian)
//     varint v                   0: the sender holds nothing of it; else version = base + v - 1
// Varints are little-endian base 128, at most kVarintBytesMax bytes, value below 2^53.
export const kDigestBodyHeaderBytes = 10;
export const kDigestEntryFingerprintBytes = 6;
/** The smallest entry: a fingerprint and a one-byte varint. */
export const kDigestEntryBytesMin = 7;
export const kVarintBytesMax = 8;

/** compareDigest flags. The sender listed every origin it holds: rows it left out are ones it lacks. */
export const kCompareFlagFull = 1;

// The compare kernel's output: a header of two i32 words, then records of 32 bytes.
export const kCompareOutCountField = 0;
export const kCompareOutOverflowField = 1;
export const kCompareOutHeaderBytes = 8;
export const kCompareRecordBytes = 32;
// Record fields, byte offsets within a record.
export const kRecordKindOffset = 0; // i32 kRecord* below
export const kRecordRowOffset = 4; // i32 registry row, -1 for an origin this registry lacks
export const kRecordFpHighOffset = 8; // u32
export const kRecordFpLowOffset = 12; // u32
export const kRecordPeerVersionOffset = 16; // f64, -1 when the peer holds nothing
export const kRecordOurVersionOffset = 24; // f64, -1 when we hold nothing

/** The peer holds a newer version than we do (or an origin we lack). */
export const kRecordWeLack = 1;
/** We hold a newer version than the peer listed. */
export const kRecordPeerLacks = 2;
/** A full digest left out an origin we hold. */
export const kRecordPeerMissing = 3;

// Errors of compareDigest, returned negated.
export const kFmidbErrTruncated = 1;
export const kFmidbErrBadCount = 2;
export const kFmidbErrBadVarint = 3;
export const kFmidbErrBadVersion = 4;
export const kFmidbErrTrailing = 5;
