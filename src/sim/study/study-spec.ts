import { z } from 'zod';
import { kPresets, membershipConfig, type MembershipOptions, type PresetName } from '../../core/membership/config.js';
import { DomainError } from '../../core/util/domain-error.js';
import { parseDurationMs, parseFraction } from './study-units.js';

/**
 * One study: a simulated farm, the faults it meets and when, and the seed that decides
 * everything else. `StudyInput` is what a person writes (flags or a YAML scenario, with
 * units such as "5%" and "30s"); `StudySpec` is the validated, filled form the runner
 * takes, every duration in simulated ms.
 *
 * Every fault (loss, crashes, the partition, stalls) happens inside the fault window
 * [0, faultsEndMs); after it the network is clean, so the farm has the rest of the run
 * to converge, and not converging is a finding.
 */
export interface StudySpec {
  /** A name for reports; "study" when none is given. */
  readonly name: string;
  readonly nodes: number;
  readonly preset: PresetName;
  readonly simulatedMs: number;
  /** The one seed of the run (an unsigned 32-bit integer). */
  readonly seed: number;
  /** Datagram loss rate during the fault window, in [0, 1). */
  readonly lossRate: number;
  /** Processes that crash, at seeded random times inside the fault window. */
  readonly crashes: number;
  /**
   * True: a crashed process leaves its host up, so datagrams to it draw ICMP port
   * unreachable (a process crash). False: the host vanishes, no evidence (SWIM only).
   */
  readonly icmp: boolean;
  readonly partition: PartitionSpec | null;
  readonly stall: StallSpec | null;
  readonly faultsEndMs: number;
  /** How often the time series are sampled, simulated ms. */
  readonly sampleEveryMs: number;
  /** How many observers (a seeded sample) the convergence series checks. */
  readonly observers: number;
  /** Overrides of the preset's membership settings (e.g. a broken suspicionMult, on purpose). */
  readonly membership: Readonly<MembershipOptions>;
}

export interface PartitionSpec {
  readonly startMs: number;
  readonly durationMs: number;
  /** Fraction of the nodes on the smaller side, in (0, 0.5]. */
  readonly split: number;
  /** When true only the small side's datagrams to the large side are cut. */
  readonly oneWay: boolean;
}

export interface StallSpec {
  /** Fraction of the nodes that stall, in (0, 1]. */
  readonly fraction: number;
  /** How long each stall freezes the node's event loop, ms. */
  readonly durationMs: number;
  /** Each stalling node stalls once per period, at a seeded random moment in it. */
  readonly periodMs: number;
}

/** The largest farm a study may simulate; at 10,000 nodes one run needs about 4 GiB (see the README). */
export const kStudyNodesMax = 20_000;
export const kStudyNodesMin = 3;
/** The longest simulated run, ms (a day). */
export const kStudySimulatedMsMax = 86_400_000;
/** The most observers the convergence series checks per sample (each costs one view of N members). */
export const kStudyObserversMax = 1000;
/** The most samples one run records, so a long run with a fine sampling cannot fill memory. */
export const kStudySamplesMax = 100_000;
/** The most stalls one run schedules (stalling nodes × periods in the fault window): each is a planned action. */
export const kStudyStallsMax = 2_000_000;

const kDefaults = Object.freeze({ name: 'study', nodes: 200, preset: 'lan' as PresetName, seconds: 60, seed: 1, observers: 50, sampleEveryMs: 1000, stallDurationMs: 2000, stallPeriodMs: 60_000, split: 0.5 });

const fraction = (what: string) =>
  z.preprocess((v) => (v === undefined ? undefined : parseFraction(v) ?? v), z.number({ invalid_type_error: `${what} must be a fraction such as 5% or 0.05` }));
const duration = (what: string) =>
  z.preprocess((v) => (v === undefined ? undefined : parseDurationMs(v) ?? v), z.number({ invalid_type_error: `${what} must be a duration such as 30s, 2m or 500ms` }).nonnegative(`${what} must not be negative`));
const integer = (what: string) =>
  z.preprocess((v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v), z.number({ invalid_type_error: `${what} must be an integer` }).int(`${what} must be an integer`));

const partitionSchema = z.union([
  duration('partition'),
  z.object({
    at: duration('partition.at').optional(),
    duration: duration('partition.duration'),
    split: fraction('partition.split').optional(),
    oneWay: z.boolean({ invalid_type_error: 'partition.oneWay must be true or false' }).optional(),
  }).strict(),
]);

const stallSchema = z.union([
  fraction('stall'),
  z.object({
    fraction: fraction('stall.fraction'),
    duration: duration('stall.duration').optional(),
    every: duration('stall.every').optional(),
  }).strict(),
]);

/** What a person writes: every field optional, units allowed. */
export const studyInputSchema = z.object({
  name: z.string().min(1).max(80).regex(/^[\w.-]+$/, 'name may hold letters, digits, ".", "_" and "-" only').optional(),
  nodes: integer('nodes').optional(),
  preset: z.enum(Object.keys(kPresets) as [PresetName, ...PresetName[]], { errorMap: () => ({ message: `preset must be one of ${Object.keys(kPresets).join(', ')}` }) }).optional(),
  seconds: duration('seconds').optional(),
  seed: integer('seed').optional(),
  loss: fraction('loss').optional(),
  crash: integer('crash').optional(),
  icmp: z.boolean({ invalid_type_error: 'icmp must be true or false' }).optional(),
  partition: partitionSchema.nullable().optional(),
  stall: stallSchema.nullable().optional(),
  faultsUntil: duration('faultsUntil').optional(),
  sampleEvery: duration('sampleEvery').optional(),
  observers: integer('observers').optional(),
  membership: z.record(z.number({ invalid_type_error: 'membership values must be numbers' })).optional(),
}).strict();

export type StudyInput = z.input<typeof studyInputSchema>;

/** Reads and checks one study; throws DomainError('invalid', 'simulate.bad-study') naming every problem. */
export function parseStudy(input: unknown): StudySpec {
  const parsed = studyInputSchema.safeParse(input ?? {});
  const label = typeof (input as { name?: unknown } | null)?.name === 'string' ? `study "${(input as { name: string }).name}"` : 'study';
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => (issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message));
    throw bad(label, problems);
  }
  const v = parsed.data;
  const problems: string[] = [];
  const nodes = v.nodes ?? kDefaults.nodes;
  if (nodes < kStudyNodesMin || nodes > kStudyNodesMax) problems.push(`nodes must be from ${kStudyNodesMin} to ${kStudyNodesMax}, got ${nodes}`);
  const simulatedMs = v.seconds ?? kDefaults.seconds * 1000;
  if (simulatedMs < 1000 || simulatedMs > kStudySimulatedMsMax) problems.push(`seconds must be from 1s to 24h, got ${simulatedMs / 1000}s`);
  const seed = v.seed ?? kDefaults.seed;
  if (seed < 0 || seed > 0xffffffff) problems.push(`seed must be an unsigned 32-bit integer, got ${seed}`);
  const lossRate = v.loss ?? 0;
  if (!(lossRate >= 0 && lossRate < 1)) problems.push(`loss must be from 0% to below 100%, got ${lossRate * 100}%`);
  const crashes = v.crash ?? 0;
  if (crashes < 0 || crashes > nodes - 2) problems.push(`crash must be from 0 to nodes - 2 (${nodes - 2}), got ${crashes}`);

  let partition: PartitionSpec | null = null;
  if (v.partition !== undefined && v.partition !== null) {
    const p = typeof v.partition === 'number' ? { duration: v.partition } : v.partition;
    const startMs = p.at ?? Math.round(simulatedMs / 10_000) * 1000;
    const split = p.split ?? kDefaults.split;
    if (p.duration <= 0) problems.push('partition duration must be positive');
    if (!(split > 0 && split <= 0.5)) problems.push(`partition.split (the smaller side) must be in (0, 50%], got ${split * 100}%`);
    if (startMs + p.duration > simulatedMs) problems.push(`the partition (from ${startMs / 1000}s for ${p.duration / 1000}s) must heal before the run ends at ${simulatedMs / 1000}s`);
    partition = { startMs, durationMs: p.duration, split, oneWay: p.oneWay ?? false };
  }
  let stall: StallSpec | null = null;
  if (v.stall !== undefined && v.stall !== null) {
    const s = typeof v.stall === 'number' ? { fraction: v.stall } : v.stall;
    stall = { fraction: s.fraction, durationMs: s.duration ?? kDefaults.stallDurationMs, periodMs: s.every ?? kDefaults.stallPeriodMs };
    if (!(stall.fraction > 0 && stall.fraction <= 1)) problems.push(`stall must be a fraction of the nodes in (0, 100%], got ${stall.fraction * 100}%`);
    if (stall.durationMs <= 0 || stall.durationMs >= stall.periodMs) problems.push(`stall.duration (${stall.durationMs}ms) must be positive and shorter than stall.every (${stall.periodMs}ms)`);
  }
  const partitionEndMs = partition === null ? 0 : partition.startMs + partition.durationMs;
  const faultsEndMs = v.faultsUntil ?? Math.max(Math.round((simulatedMs * 2) / 3000) * 1000, partitionEndMs);
  if (faultsEndMs > simulatedMs) problems.push(`faultsUntil (${faultsEndMs / 1000}s) must not be after the end of the run (${simulatedMs / 1000}s)`);
  if (partitionEndMs > faultsEndMs) problems.push(`the partition must heal by faultsUntil (${faultsEndMs / 1000}s), but heals at ${partitionEndMs / 1000}s`);
  if ((crashes > 0 || stall !== null) && faultsEndMs < 1000) problems.push('faultsUntil must be at least 1s when crashes or stalls are asked for');
  if (stall !== null && stall.periodMs > 0) {
    const stalls = Math.max(1, Math.round(nodes * stall.fraction)) * Math.ceil(faultsEndMs / stall.periodMs);
    if (stalls > kStudyStallsMax) problems.push(`the stalls asked for add up to ${stalls}, more than ${kStudyStallsMax}; stall less often (stall.every) or fewer nodes`);
  }
  const sampleEveryMs = v.sampleEvery ?? kDefaults.sampleEveryMs;
  if (sampleEveryMs < 100) problems.push(`sampleEvery must be at least 100ms, got ${sampleEveryMs}ms`);
  else if (simulatedMs / sampleEveryMs > kStudySamplesMax) problems.push(`seconds / sampleEvery must be at most ${kStudySamplesMax} samples`);
  const observers = v.observers ?? kDefaults.observers;
  if (observers < 1 || observers > kStudyObserversMax) problems.push(`observers must be from 1 to ${kStudyObserversMax}, got ${observers}`);
  const preset = v.preset ?? kDefaults.preset;
  const membership = v.membership ?? {};
  try {
    membershipConfig({ ...membership, membersMax: nodes + 16 }, preset);
  } catch (error) {
    problems.push(`membership: ${(error as Error).message}`);
  }
  if ('membersMax' in membership) problems.push('membership.membersMax is set by the study from nodes');
  if (problems.length > 0) throw bad(label, problems);
  return Object.freeze({ name: v.name ?? kDefaults.name, nodes, preset, simulatedMs, seed, lossRate, crashes, icmp: v.icmp ?? true, partition, stall, faultsEndMs, sampleEveryMs, observers: Math.min(observers, nodes), membership: Object.freeze({ ...membership }) });
}

function bad(label: string, problems: readonly string[]): DomainError {
  return new DomainError('invalid', 'simulate.bad-study', `${label}: ${problems.join('; ')}`);
}
