// The membership table's layout in shared memory: the one definition that the
// TypeScript code, the AssemblyScript kernels and the workers all read.
//
// Like src/wire/format.ts this file is compiled by both tsc and asc, so it holds only
// `export const NAME = <integer literal>;` lines within the signed 32-bit range.
//
// The table is a struct of arrays. At its base sits a header of u32 fields (below);
// the fields named *Offset hold the byte offset of each column from the table base,
// written once by table-layout.ts when the table is created. Every kernel reads the
// offsets from the header, so a column can move without touching the kernels.
//
// Columns, one element per row (the row index is the member's slot):
//   idHigh, idLow       u32   the 64-bit node id
//   incarnation         u32   SWIM incarnation number (on a free row: the next free row)
//   heartbeat           u32   gossip heartbeat counter (larger wins)
//   port                u16   UDP port
//   status              u8    kStatus* from wire/format.ts; 0 marks a free row
//   family              u8    4 or 6
//   flags               u8    kRowFlag* below
//   address             16 bytes per row (IPv4 in the first 4)
//   stateChangeMs       u32   local time of the last status change
//   lastHeardMs         u32   local time the heartbeat last grew
//   deadlineMs          u32   suspicion expiry for suspects, reap time for the dead
//                             (meaningful only while kRowFlagDeadlineArmed is set)
//   fdMeanMs            f32   mean heartbeat inter-arrival time (EWMA)
//   fdVarianceMs2       f32   its variance (EWMA)
//   fdSamples           u16   heartbeat intervals observed, saturating at 65535
//   hashSlots           i32   open-addressing index from id to row + 1 (0 = empty)
//
// Identity sharing (shared-identity.ts): a simulator holds thousands of tables that
// list the same members in the same rows, so their identity columns (idHigh, idLow,
// port, family, address) and id index (hashSlots) can be one shared copy, which a table
// copies into its own columns the first time it would write a different identity.
//
// Why so narrow: the simulator holds one full table per simulated node, so a farm of
// 10,000 nodes is 10^8 rows in one process; at about 67 bytes a row that is 6.7 GB,
// inside the 8 GiB the scale benchmark allows. Times are therefore u32 milliseconds
// of the local clock, modulo 2^32: every comparison is on wrapping differences, which
// are exact for spans under 24 days. The EWMA statistics need no more than f32.

export const kTableMagic = 0x544d5847; // 'GXMT' read as little-endian u32
export const kTableLayoutVersion = 1;
export const kTableHeaderBytes = 128;

export const kHeaderMagicField = 0;
export const kHeaderVersionField = 1;
export const kHeaderCapacityField = 2;
/** Rows ever handed out (the high-water mark); rows below it may be free. */
export const kHeaderRowCountField = 3;
export const kHeaderHashSlotCountField = 4;
/** Head of the free-row list plus one (0 = empty); the list runs through the incarnation column. */
export const kHeaderFreeHeadField = 5;
/** Bumped after every change a reader may care about (merge, sweep, insert). */
export const kHeaderGenerationField = 6;
/** Field 7 is reserved. */
export const kHeaderIdHighOffsetField = 8;
export const kHeaderIdLowOffsetField = 9;
export const kHeaderIncarnationOffsetField = 10;
export const kHeaderHeartbeatOffsetField = 11;
export const kHeaderPortOffsetField = 12;
export const kHeaderStatusOffsetField = 13;
export const kHeaderFamilyOffsetField = 14;
export const kHeaderFlagsOffsetField = 15;
export const kHeaderAddressOffsetField = 16;
export const kHeaderStateChangeOffsetField = 17;
export const kHeaderLastHeardOffsetField = 18;
export const kHeaderFdMeanOffsetField = 19;
export const kHeaderFdVarianceOffsetField = 20;
export const kHeaderFdSamplesOffsetField = 21;
export const kHeaderDeadlineOffsetField = 22;
export const kHeaderHashSlotsOffsetField = 23;
/** Bytes the whole table occupies, header included. */
export const kHeaderTotalBytesField = 24;
/** Rows released and not yet reused. */
export const kHeaderFreeCountField = 25;
// Fields 26-31: the byte offsets of the table's own identity columns (ids, address,
// port, family) and its own id index. They equal the offsets above unless the table
// shares its identity (shared-identity.ts): then the offsets above lead, modulo 2^32,
// into a shared table in the same memory, and these say where to copy it back to.
// A table shares its identity exactly while kHeaderIdHighOffsetField differs from
// kHeaderOwnIdHighOffsetField.
export const kHeaderOwnIdHighOffsetField = 26;
export const kHeaderOwnIdLowOffsetField = 27;
export const kHeaderOwnPortOffsetField = 28;
export const kHeaderOwnFamilyOffsetField = 29;
export const kHeaderOwnAddressOffsetField = 30;
export const kHeaderOwnHashSlotsOffsetField = 31;
export const kHeaderFieldCount = 32;

export const kAddressBytes = 16;

/** The failure-detector sweep already reported this row's silence. */
export const kRowFlagSilenceReported = 1;
/** The sweep already reported this row's deadline. */
export const kRowFlagDeadlineReported = 2;
/** This row is the local node. */
export const kRowFlagSelf = 4;
/** deadlineMs holds a deadline. */
export const kRowFlagDeadlineArmed = 8;

// Change flags reported by the digest merge, one word per changed row.
export const kChangeInserted = 1;
export const kChangeStatus = 2;
export const kChangeIncarnation = 4;
export const kChangeHeartbeat = 8;
export const kChangeAddress = 16;

// What the failure-detector sweep reports, one word per row that crossed a line.
/** An alive row whose heartbeat has been silent past the phi or time threshold. */
export const kSweepSilent = 1;
/** A suspect whose suspicion deadline passed: declare it dead. */
export const kSweepSuspicionExpired = 2;
/** A dead or left row whose tombstone deadline passed: reap it. */
export const kSweepReapable = 3;

// Output buffers of the kernels: i32 words. Word 0 holds the count of records,
// word 1 the count of records that did not fit (or entries refused), then records of
// two words each: row, then change flags or sweep kind.
export const kOutCountField = 0;
export const kOutOverflowField = 1;
export const kOutHeaderWords = 2;

/** The heartbeat EWMA weight is 1/2^kFdWeightShift = 0.125, exact in binary. */
export const kFdWeightShift = 3;
export const kFdSamplesMax = 65535;
