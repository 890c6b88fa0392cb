import { MemoryViews } from '../runtime/memory-views.js';
import { kMemoryBytesMax, kPageBytes, kRegionBase, kRuntimeDefaults, Runtime, type RuntimeOptions, type RuntimeSettings } from '../runtime/runtime.js';
import { createTsKernels } from './ts-kernels.js';
import { createWasmKernels } from './wasm-kernels.js';
import { wasmModule } from '../platform/wasm-module.js';
import { processEnvironment } from '../platform/environment.js';

/** Creates the shared memory and loads the kernels, Wasm first unless told otherwise. */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const settings = validate(options);
  const env = options.env ?? processEnvironment();
  const memory =
    options.memory ??
    new WebAssembly.Memory({ initial: settings.memoryBytes / kPageBytes, maximum: settings.memoryBytes / kPageBytes, shared: true });
  const views = new MemoryViews(memory.buffer);
  if (settings.backend === 'ts') return new Runtime(memory, createTsKernels(views), 'TypeScript kernels requested');
  if (settings.backend === 'auto' && env.GALAXY_NO_WASM === '1') {
    return new Runtime(memory, createTsKernels(views), 'Wasm disabled by GALAXY_NO_WASM=1');
  }
  try {
    const { kernels, heapBase } = createWasmKernels(memory, wasmModule());
    if (heapBase > kRegionBase) throw new Error(`Wasm static data ends at ${heapBase}, above the region base ${kRegionBase}`);
    return new Runtime(memory, kernels, 'Wasm kernels loaded');
  } catch (error) {
    if (settings.backend === 'wasm') throw error;
    return new Runtime(memory, createTsKernels(views), `Wasm unavailable (${(error as Error).message}); TypeScript kernels run instead`);
  }
}

function validate(options: RuntimeOptions): RuntimeSettings {
  const settings = { ...kRuntimeDefaults, ...withoutUndefined(options) };
  const { memoryBytes, backend } = settings;
  if (!Number.isInteger(memoryBytes) || memoryBytes < 2 * kPageBytes || memoryBytes > kMemoryBytesMax || memoryBytes % kPageBytes !== 0) {
    throw new RangeError(`options.memoryBytes must be a multiple of 65536 from 131072 to ${kMemoryBytesMax}, got ${memoryBytes}`);
  }
  if (backend !== 'auto' && backend !== 'wasm' && backend !== 'ts') {
    throw new RangeError(`options.backend must be 'auto', 'wasm' or 'ts', got ${String(backend)}`);
  }
  return { memoryBytes, backend };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
