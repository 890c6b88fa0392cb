/**
 * Typed views over one shared memory (a WebAssembly.Memory buffer or a plain
 * SharedArrayBuffer), used by the TypeScript kernels and by readers of the table.
 *
 * Pointers are byte offsets into the buffer, exactly as the Wasm kernels see them, so
 * a pointer handed to one backend means the same bytes to the other. Aligned columns
 * are read through the typed arrays (index = pointer >> 2 or >> 3); packet bytes, which
 * have no alignment, through the DataView.
 */
export class MemoryViews {
  readonly buffer: ArrayBufferLike;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly dv: DataView;
  /**
   * Whether the TypeScript kernels write and check the datagram checksum (true) or write
   * 0 and check for 0 (false: under AES-GCM, which authenticates every datagram). Set
   * through Kernels.setDatagramChecksums; the Wasm kernels keep the same switch in their
   * instance. Per runtime and thread, so the simulator's insecure runtimes keep theirs.
   */
  datagramChecksums = true;

  constructor(buffer: ArrayBufferLike) {
    this.buffer = buffer;
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.dv = new DataView(buffer);
  }
}
