import type { KernelBackend } from '../runtime/kernels.js';
import { createRuntime } from './create-runtime.js';
import { kPageBytes, kRegionBase } from '../runtime/runtime.js';
import { PackKernel } from '../cluster-channels/pack-kernel.js';

/**
 * A channel pack kernel over a shared memory of its own, sized for packs of up to
 * packBytesMax bytes: the Wasm kernels unless GALAXY_NO_WASM=1 (or `backend`) says
 * otherwise, else their TypeScript twin (the same bytes). For hosts of ClusterChannels
 * cores (the agent's cluster service, benchmarks, tests); the core never makes one, so
 * it stays free of the loader's file system access.
 */
export function createPackKernel(packBytesMax: number, backend: 'auto' | KernelBackend = 'auto'): PackKernel {
  const bytes = kRegionBase + PackKernel.scratchBytes(packBytesMax);
  return new PackKernel(createRuntime({ memoryBytes: Math.max(2, Math.ceil(bytes / kPageBytes)) * kPageBytes, backend }), packBytesMax);
}
