import { MemoryViews } from './memory-views.js';
import type { Kernels, KernelBackend } from './kernels.js';

/** Options of createRuntime; every field is optional (see RuntimeSettings for defaults). */
export interface RuntimeOptions {
  /**
   * Bytes of shared memory, fixed at creation. The memory never grows, so typed views
   * taken once stay valid for the life of the runtime (a grown shared buffer would need
   * every view rebuilt in every thread). 64 MiB holds a 100,000-member table, tapes and
   * I/O buffers with room to spare.
   */
  memoryBytes?: number;
  /** 'auto' takes Wasm when it loads and is not disabled by GALAXY_NO_WASM=1. */
  backend?: 'auto' | KernelBackend;
  /** An existing shared memory to attach to (a worker does this); memoryBytes is then ignored. */
  memory?: WebAssembly.Memory;
  /** The environment to read GALAXY_NO_WASM from; process.env by default. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface RuntimeSettings {
  readonly memoryBytes: number;
  readonly backend: 'auto' | KernelBackend;
}

export const kRuntimeDefaults: RuntimeSettings = Object.freeze({ memoryBytes: 64 * 1024 * 1024, backend: 'auto' });

/** Where the host's own regions start: above the Wasm module's static data and stack. */
export const kRegionBase = 65536;
export const kPageBytes = 65536;
export const kMemoryBytesMax = 2 * 1024 * 1024 * 1024;

/**
 * One shared memory, the kernels that run on it, and a bump allocator for the regions
 * (tables, tapes, packet buffers, rings) laid out in it. Regions are never freed: they
 * are made at start-up and live as long as the runtime.
 */
export class Runtime {
  readonly memory: WebAssembly.Memory;
  readonly views: MemoryViews;
  readonly kernels: Kernels;
  /** Why this backend runs (for `galaxy doctor` and logs). */
  readonly backendReason: string;
  private next = kRegionBase;
  private checksums = true;

  constructor(memory: WebAssembly.Memory, kernels: Kernels, backendReason: string) {
    this.memory = memory;
    this.views = new MemoryViews(memory.buffer);
    this.kernels = kernels;
    this.backendReason = backendReason;
  }

  /** Whether datagrams and push-pull frames carry the checksum (see setDatagramChecksums). */
  get datagramChecksums(): boolean {
    return this.checksums;
  }

  /**
   * Datagram checksums on (the default: an insecure farm) or off (a secure farm, whose
   * AES-GCM seal authenticates every datagram and stream frame): the kernels' encoders
   * and the push-pull frames then write a 0 trailer, and decoders expect it. Fixed when
   * the node sets up its keyring; both ends of a farm must agree.
   */
  setDatagramChecksums(on: boolean): void {
    this.checksums = on;
    this.kernels.setDatagramChecksums(on);
  }

  /** Reserves `bytes` bytes aligned to `alignment`; throws when the memory is exhausted. */
  allocate(bytes: number, alignment = 8): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`allocation size must be a non-negative integer, got ${bytes}`);
    const at = Math.ceil(this.next / alignment) * alignment;
    if (at + bytes > this.memory.buffer.byteLength) {
      throw new RangeError(`shared memory exhausted: ${bytes} bytes requested, ${this.memory.buffer.byteLength - at} left of ${this.memory.buffer.byteLength}; raise memoryBytes`);
    }
    this.next = at + bytes;
    return at;
  }

  /** Bytes still free for regions. */
  get bytesFree(): number {
    return this.memory.buffer.byteLength - this.next;
  }
}

