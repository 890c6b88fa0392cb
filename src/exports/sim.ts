/**
 * `galaxy-farm/sim`: run a farm in a test. The deterministic network simulator (one seed
 * drives loss, duplication, reordering, delay, crashes, restarts, pauses and partitions),
 * a farm of real membership engines on it (SimulatedFarm), the presets, and the
 * checkers (convergence, false positives) with the seed and repro helpers.
 */
export { NetworkSimulator, type SimLinkSettings, type SimReportListener } from '../sim/network-simulator.js';
export type { NetworkSimulatorOptions } from '../sim/sim-options.js';
export type { SimContext, SimMemberStatus, SimMembershipEvent, SimProcess, SimProcessFactory } from '../sim/sim-process.js';
export { checkConvergence, FalsePositiveCounter, reproLine, withSeed, kSeedVariable, type ConvergenceOptions, type ConvergenceResult, type FalseReport } from '../sim/invariants.js';
export { SimulatedFarm, type SimulatedFarmOptions } from '../sim/simulated-farm.js';
export { kPresets, membershipConfig, type MembershipConfig, type MembershipOptions, type PresetName } from '../core/membership/config.js';
export type { MembershipEvent, MembershipEventType } from '../core/membership/membership-event.js';
