import type { Kernels } from '../runtime/kernels.js';
import { wasmModule } from '../platform/wasm-module.js';

/** The exports of dist/asm/galaxy.wasm (see asm/index.ts): the kernels, plus where free memory starts. */
type WasmExports = Omit<Kernels, 'backend' | 'setDatagramChecksums'> & { heapBase(): number; setDatagramChecksums(on: number): void };

/** Instantiates the Wasm kernels over `memory`; returns them and the first free byte. */
export function createWasmKernels(memory: WebAssembly.Memory, module: WebAssembly.Module = wasmModule()): { kernels: Kernels; heapBase: number } {
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort(_message: number, _file: number, line: number, column: number): never {
        throw new Error(`Wasm kernel assertion failed at line ${line}:${column}`);
      },
    },
  });
  const x = instance.exports as unknown as WasmExports;
  const kernels: Kernels = {
    backend: 'wasm',
    checksum: (pointer, length) => x.checksum(pointer, length) >>> 0,
    datagramChecksum: (pointer, length) => x.datagramChecksum(pointer, length) >>> 0,
    setDatagramChecksums: (on) => x.setDatagramChecksums(on ? 1 : 0),
    decode: x.decode,
    encode: x.encode,
    findRow: x.findRow,
    insertRow: x.insertRow,
    removeRow: x.removeRow,
    mergeDigest: x.mergeDigest,
    sweep: x.sweep,
    encodeDigest: x.encodeDigest,
    fmidbFindOrigin: x.fmidbFindOrigin,
    fmidbInsertOrigin: x.fmidbInsertOrigin,
    fmidbRemoveOrigin: x.fmidbRemoveOrigin,
    fmidbCompareDigest: x.fmidbCompareDigest,
    packRecords: x.packRecords,
    packMessages: x.packMessages,
    unpackRecords: x.unpackRecords,
  };
  return { kernels, heapBase: x.heapBase() >>> 0 };
}
