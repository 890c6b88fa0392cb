import type { KernelBackend } from '../runtime/kernels.js';
import { createRuntime } from '../kernels/create-runtime.js';
import { kRegionBase, type Runtime } from '../runtime/runtime.js';
import type { FmidbConfig } from '../fmidb/config.js';
import { FmidbMemory } from '../fmidb/fmidb-memory.js';

/**
 * A shared memory and kernels sized for `replicas` FMIDB replicas and their scratch:
 * the Wasm kernels unless GALAXY_NO_WASM=1 (or `backend`) says otherwise. For drivers
 * (the agent, the simulator, tests); the replica itself never makes one, so that it
 * stays free of the loader's file system access.
 */
export function createFmidbRuntime(
  config: Pick<FmidbConfig, 'streamFrameBytesMax' | 'originsMax'>,
  replicas = 1,
  options: { sharedRegistryCapacity?: number; backend?: 'auto' | KernelBackend } = {},
): Runtime {
  const bytes = kRegionBase + FmidbMemory.scratchBytes(config, options.sharedRegistryCapacity) + replicas * FmidbMemory.replicaBytes(config.originsMax, options.sharedRegistryCapacity);
  const page = 65536;
  return createRuntime({ memoryBytes: Math.max(2, Math.ceil(bytes / page)) * page, backend: options.backend ?? 'auto' });
}
