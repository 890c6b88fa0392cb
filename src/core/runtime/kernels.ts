/**
 * The hot kernels, as one interface with two backends: AssemblyScript compiled to Wasm
 * (wasm-kernels.ts) and the TypeScript reference (ts-kernels.ts). Both work on the
 * same shared memory with the same pointers and give bit-identical results; the
 * loader (load-kernels.ts) picks one.
 *
 * Return values follow the Wasm convention: a count or length, or a negated kErr* code
 * (see wire/format.ts and wire-error.ts). Nothing here throws on bad input.
 */
export interface Kernels {
  readonly backend: KernelBackend;
  checksum(pointer: number, length: number): number;
  /** The datagram trailer encode, encodeDigest and assembleParts write: checksum(), or 0 with datagram checksums off. */
  datagramChecksum(pointer: number, length: number): number;
  /**
   * Datagram checksums on (the default; an insecure farm) or off (AES-GCM authenticates
   * every datagram: encoders write 0 in the 4-byte trailer, decoders expect 0 and compute
   * nothing). Both ends of a farm must agree, which they do: secure and insecure farms do
   * not talk to each other. The FMIDB's message checksum (`checksum`) is not affected.
   */
  setDatagramChecksums(on: boolean): void;
  decode(packet: number, length: number, limit: number, tape: number): number;
  encode(tape: number, out: number, limit: number): number;
  findRow(table: number, high: number, low: number): number;
  insertRow(table: number, high: number, low: number): number;
  removeRow(table: number, row: number): void;
  mergeDigest(table: number, packet: number, length: number, limit: number, nowMs: number, out: number, outCapacity: number): number;
  sweep(table: number, nowMs: number, phiKSquared: number, varianceMinMs2: number, samplesMin: number, silenceMaxMs: number, out: number, outCapacity: number): number;
  encodeDigest(table: number, rowList: number, rowCount: number, flags: number, out: number, limit: number): number;
  // The FMIDB's origin registry and digest compare (src/fmidb/ts-fmidb-kernels.ts, asm/fmidb.ts).
  fmidbFindOrigin(registry: number, high: number, low: number): number;
  fmidbInsertOrigin(registry: number, high: number, low: number): number;
  fmidbRemoveOrigin(registry: number, row: number): void;
  fmidbCompareDigest(registry: number, versions: number, body: number, length: number, flags: number, out: number, outCapacity: number): number;
  // The channel pack kernels (src/core/cluster-channels/ts-pack-kernels.ts, asm/channels.ts; lists in pack-layout.ts).
  packRecords(list: number, count: number, out: number, limit: number): number;
  packMessages(list: number, count: number, out: number, limit: number): number;
  unpackRecords(pack: number, length: number, recordsMax: number, out: number, outCapacity: number): number;
}

export type KernelBackend = 'wasm' | 'ts';
