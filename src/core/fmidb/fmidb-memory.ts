import type { Runtime } from '../runtime/runtime.js';
import type { FmidbConfig } from './config.js';
import * as L from './layout.js';
import { MessageWriter } from './message-writer.js';
import { OriginRegistry, registryLayout } from './origin-registry.js';
import { Utf8Cache } from './utf8-cache.js';

/** Strings whose UTF-8 bytes are cached for the encoder (keys and recent origins' ids). */
const kUtf8CacheEntriesMax = 8192;
/** Group bodies cached (about 150 bytes each at five values a group). */
const kGroupBodiesMax = 8192;
/** Every message header and digest body header is at least this long; entries at least 7 bytes. */
const kDigestOverheadBytes = 18;

/**
 * The scratch a replica uses inside one call, in shared memory where the kernels see it:
 * the buffer messages are built in, the buffer a received message is checked and
 * compared in, the compare kernel's output, and (in the simulator) the registry that
 * thousands of replicas share. Replicas on one thread may share one FmidbMemory, since
 * none keeps anything in it between calls.
 */
export class FmidbMemory {
  readonly runtime: Runtime;
  /** Set when the replicas share one registry (the simulator); null: each makes its own. */
  readonly registry: OriginRegistry | null;
  readonly writer: MessageWriter;
  readonly receiveBuffer: number;
  readonly frameBytesMax: number;
  readonly compareOut: number;
  readonly compareOutCapacity: number;
  readonly utf8 = new Utf8Cache(kUtf8CacheEntriesMax);
  /**
   * Encoded group bodies by (origin, from, to), as one version of an origin goes to
   * many peers (a replica's fanout; every replica in the simulator). Bounded: cleared
   * when full. Replicas whose content may differ from their origins' (see
   * FmidbReplica.groupBody) key theirs apart.
   */
  readonly groupBodies = new Map<string, Uint8Array>();
  readonly groupBodiesMax = kGroupBodiesMax;

  /**
   * sharedRegistryCapacity: one registry of that many origins for every replica of this
   * memory (the simulator). reuseOutput: drained messages live in one reused buffer and
   * are valid only until the next call into a replica of this memory (the simulator,
   * which copies them at once); by default each is a fresh array.
   */
  constructor(runtime: Runtime, config: Pick<FmidbConfig, 'streamFrameBytesMax' | 'originsMax'>, options: { sharedRegistryCapacity?: number; reuseOutput?: boolean } = {}) {
    this.runtime = runtime;
    this.frameBytesMax = config.streamFrameBytesMax;
    const shared = options.sharedRegistryCapacity;
    this.registry = shared === undefined ? null : OriginRegistry.create(runtime, shared, { shared: true });
    this.writer = new MessageWriter(runtime, runtime.allocate(this.frameBytesMax, 8), this.frameBytesMax, options.reuseOutput ?? false);
    this.receiveBuffer = runtime.allocate(this.frameBytesMax, 8);
    this.compareOutCapacity = compareOutCapacity(config.streamFrameBytesMax, shared ?? config.originsMax);
    this.compareOut = runtime.allocate(L.kCompareOutHeaderBytes + this.compareOutCapacity * L.kCompareRecordBytes, 8);
  }

  /** Bytes one FmidbMemory takes in its runtime (registry excluded unless shared). */
  static scratchBytes(config: Pick<FmidbConfig, 'streamFrameBytesMax' | 'originsMax'>, sharedRegistryCapacity?: number): number {
    const registry = sharedRegistryCapacity === undefined ? 0 : registryLayout(sharedRegistryCapacity).totalBytes;
    const out = L.kCompareOutHeaderBytes + compareOutCapacity(config.streamFrameBytesMax, sharedRegistryCapacity ?? config.originsMax) * L.kCompareRecordBytes;
    return registry + 2 * config.streamFrameBytesMax + out + 64;
  }

  /** Bytes each replica carves from the runtime: its version column, and its registry unless shared. */
  static replicaBytes(originsMax: number, sharedRegistryCapacity?: number): number {
    const rows = sharedRegistryCapacity ?? originsMax;
    return 8 * rows + (sharedRegistryCapacity === undefined ? registryLayout(originsMax).totalBytes : 0) + 16;
  }
}

/** Records a compare can write: every entry of the largest message, plus every row (full digests). */
function compareOutCapacity(frameBytesMax: number, rows: number): number {
  return Math.floor((frameBytesMax - kDigestOverheadBytes) / L.kDigestEntryBytesMin) + rows;
}
