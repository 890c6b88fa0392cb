/**
 * galaxy-farm: the library surface for integrators embedding the core.
 *
 * Foundation: the runtime (shared memory + Wasm or TS kernels), the wire codec, the
 * membership table in shared memory, the gossip worker and its ring, and backend
 * reporting. Higher layers (membership engine, farm service, clusters) build on these.
 */
export { Runtime, kRuntimeDefaults, type RuntimeOptions, type RuntimeSettings } from './core/runtime/runtime.js';
export { createRuntime } from './core/kernels/create-runtime.js';
export type { Kernels, KernelBackend } from './core/runtime/kernels.js';
export { MemoryViews } from './core/runtime/memory-views.js';
export { Codec } from './core/wire/codec.js';
export { Tape, kDatagramTapeCapacity, type TapeCapacity } from './core/wire/tape.js';
export { WireError, wireErrorName } from './core/wire/wire-error.js';
export { WireCounters } from './core/wire/wire-counters.js';
export * as wireFormat from './core/wire/format.js';
export * as tableLayoutFields from './core/table/layout.js';
export {
  formatNodeId, formatWireAddress, kNoAddress, parseNodeId, parseWireAddress,
  type MemberEntry, type Message, type NodeId, type WireAddress,
} from './core/wire/message.js';
export { MembershipTable, TableFullError, type MemberRow } from './core/table/membership-table.js';
export { tableLayout, kTableCapacityMax, type TableLayout } from './core/table/table-layout.js';
export { Ring } from './node/threads/ring.js';
export { GossipWorkerClient, type GossipWorkerOptions, type WorkerResult } from './node/threads/gossip-worker-client.js';
export { loadNative, type Capabilities, type NativeAddon, type NativeStatus } from './node/native/loader.js';
export { backendReport, type BackendReport } from './node/backends.js';
export { Prng } from './core/util/prng.js';

// The farm node in this process, the membership engine with its presets, and the shapes
// the farm answers with. The simulator, the API client and the component SDK have their
// own entry points: galaxy-farm/sim, galaxy-farm/client, galaxy-farm/component.
export { startFarmNode, FarmNodeHandle, type FarmMembershipEvent, type FarmNodeOptions } from './ops/agent/embedded-farm-node.js';
export { AgentUsageError } from './node/util/agent-usage-error.js';
export { MembershipEngine, type EngineEnvironment, type EngineOptions } from './core/membership/membership-engine.js';
export { kPresets, membershipConfig, type MembershipConfig, type MembershipOptions, type PresetName } from './core/membership/config.js';
export type { MembershipEvent, MembershipEventType } from './core/membership/membership-event.js';
export type { MemberView } from './core/membership/member-view.js';
export type { NodeValues } from './farm/data/node-values.js';
export type { NodeSummary } from './farm/service/node-summary.js';
export type { NodeAttributes } from './farm/data/farm-data.js';
