// The Wasm entry point: re-exports the kernels of asm/checksum.ts, asm/codec.ts,
// asm/table.ts, asm/fmidb.ts and asm/channels.ts, the AssemblyScript twins of
// src/wire/checksum.ts, src/wire/ts-codec.ts, src/table/ts-table-kernels.ts,
// src/fmidb/ts-fmidb-kernels.ts and src/core/cluster-channels/ts-pack-kernels.ts.
// Their results must match the TypeScript reference bit for bit.
//
// Built with: npx asc asm/index.ts --config asm/asconfig.json --target release
// (imported shared memory, stub runtime, threads). Nothing here allocates.
//
// Note for hosts: Wasm has no unsigned types at the boundary, so u32 results
// (checksum, heapBase) arrive in JavaScript as signed i32; apply `>>> 0`.

export { checksum, datagramChecksum, setDatagramChecksums } from "./checksum";
export { decode, encode } from "./codec";
export { findRow, insertRow, removeRow, mergeDigest, sweep, encodeDigest } from "./table";
export { fmidbFindOrigin, fmidbInsertOrigin, fmidbRemoveOrigin, fmidbCompareDigest } from "./fmidb";

/** The first byte the host may use for its own regions. */
export function heapBase(): u32 {
  return <u32>__heap_base;
}
export { packRecords, packMessages, unpackRecords } from "./channels";
