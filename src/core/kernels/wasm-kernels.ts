import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../node/util/package-root.js';
import type { Kernels } from './kernels.js';

/** The exports of dist/asm/galaxy.wasm (see asm/index.ts): the kernels, plus where free memory starts. */
type WasmExports = Omit<Kernels, 'backend'> & { heapBase(): number };

/** Where `npm install` (asc) puts the compiled kernels. */
export function wasmPath(): string {
  return join(packageRoot(), 'dist', 'asm', 'galaxy.wasm');
}

let compiled: WebAssembly.Module | undefined;

/**
 * The compiled Wasm module, compiled once per thread. A WebAssembly.Module can also be
 * posted to a worker, which then instantiates it over the same shared memory.
 */
export function wasmModule(): WebAssembly.Module {
  if (compiled !== undefined) return compiled;
  const path = wasmPath();
  if (!existsSync(path)) throw new Error(`Wasm kernels not built: ${path} is missing (run npm run build:asm)`);
  compiled = new WebAssembly.Module(readFileSync(path));
  return compiled;
}

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
  };
  return { kernels, heapBase: x.heapBase() >>> 0 };
}
