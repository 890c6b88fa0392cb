import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

/**
 * Reading the compiled kernels is the one place the core layer touches the platform
 * (with package-root.ts beside it): the bytes are read once per thread, at the first
 * runtime, and nothing else in src/core does I/O. dependency-cruiser allows node:
 * built-ins under src/core/platform/ only.
 */
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

