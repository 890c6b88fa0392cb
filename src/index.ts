/**
 * galaxy-farm: the library surface for integrators embedding the core.
 *
 * Foundation: the runtime (shared memory + Wasm or TS kernels), the wire codec, the
 * membership table in shared memory, the gossip worker and its ring, and backend
 * reporting. Higher layers (membership engine, farm service, clusters) build on these.
 */
export { createRuntime, Runtime, kRuntimeDefaults, type RuntimeOptions, type RuntimeSettings } from './kernels/runtime.js';
export type { Kernels, KernelBackend } from './kernels/kernels.js';
export { MemoryViews } from './memory/views.js';
export { Codec } from './wire/codec.js';
export { Tape, kDatagramTapeCapacity, type TapeCapacity } from './wire/tape.js';
export { WireError, wireErrorName } from './wire/wire-error.js';
export { WireCounters } from './wire/wire-counters.js';
export * as wireFormat from './wire/format.js';
export * as tableLayoutFields from './table/layout.js';
export {
  formatNodeId, formatWireAddress, kNoAddress, parseNodeId, parseWireAddress,
  type MemberEntry, type Message, type NodeId, type WireAddress,
} from './wire/message.js';
export { MembershipTable, TableFullError, type MemberRow } from './table/membership-table.js';
export { tableLayout, kTableCapacityMax, type TableLayout } from './table/table-layout.js';
export { Ring } from './threads/ring.js';
export { GossipWorkerClient, type GossipWorkerOptions, type WorkerResult } from './threads/gossip-worker-client.js';
export { loadNative, type Capabilities, type NativeAddon, type NativeStatus } from './native/loader.js';
export { backendReport, type BackendReport } from './backends.js';
export { Prng } from './util/prng.js';

// The farm node in this process, the membership engine with its presets, and the shapes
// the farm answers with. The simulator, the API client and the component SDK have their
// own entry points: galaxy-farm/sim, galaxy-farm/client, galaxy-farm/component.
export { startFarmNode, FarmNodeHandle, type FarmMembershipEvent, type FarmNodeOptions } from './farm/embedded-farm-node.js';
export { AgentUsageError } from './agent/config/agent-usage-error.js';
export { MembershipEngine, type EngineEnvironment, type EngineOptions } from './gossip/membership-engine.js';
export { kPresets, membershipConfig, type MembershipConfig, type MembershipOptions, type PresetName } from './gossip/config.js';
export type { MembershipEvent, MembershipEventType } from './gossip/membership-event.js';
export type { MemberView, NodeSummary, NodeValues } from './api/api-backend.js';
export type { NodeAttributes } from './farm/farm-data.js';
