import type { NetworkSimulator, SimReportListener } from './network-simulator.js';
import type { SimMemberStatus, SimMembershipEvent } from './sim-process.js';

/**
 * What must hold of a membership protocol running in the simulator, checked against the
 * simulator's ground truth: convergence of views, false positives as they are reported,
 * and the one-line command that replays a failing seed.
 */

// ---- Convergence ------------------------------------------------------------------

export interface ConvergenceOptions {
  /**
   * When true, a crashed or stopped node must be in the view as 'dead' or 'left'. When
   * false (the default) it may also be absent, as after the protocol reaped it.
   */
  requireDeadKnown?: boolean;
  /** How many disagreements to list in the result (all are counted). */
  disagreementsMax?: number;
  /**
   * Only these observers are checked (default: every node). The check costs one map
   * lookup per (observer, node) pair, 10^8 at 10,000 nodes, so large runs pass a sample.
   */
  observers?: readonly string[];
}

export interface ConvergenceDisagreement {
  observer: string;
  subject: string;
  expected: 'alive' | 'not alive' | 'dead or left';
  actual: SimMemberStatus | 'absent';
}

export interface ConvergenceResult {
  converged: boolean;
  /** Observers whose views were compared with the truth. */
  observersChecked: number;
  /** Live observers not checked: paused, or cut off from some other live process. */
  observersSkipped: number;
  disagreementCount: number;
  /** The first disagreementsMax disagreements, in node order. */
  disagreements: ConvergenceDisagreement[];
  /** One line for a failure message. */
  summary: string;
}

const kConvergenceDefaults = Object.freeze({ requireDeadKnown: false, disagreementsMax: 10 });
const kDisagreementsLimit = 100_000;

/**
 * Every live, unpaused process that can reach and be reached by every other live
 * process (loss aside) must see each other running, unpaused process as 'alive' and
 * each crashed or stopped one as not 'alive' and not 'suspect'. Paused processes are
 * neither checked nor required to be seen alive, since Lifeguard may rightly declare a
 * long-paused node dead. An observer's opinion of itself is not checked.
 */
export function checkConvergence(sim: NetworkSimulator, options: ConvergenceOptions = {}): ConvergenceResult {
  const requireDeadKnown = options.requireDeadKnown ?? kConvergenceDefaults.requireDeadKnown;
  const disagreementsMax = options.disagreementsMax ?? kConvergenceDefaults.disagreementsMax;
  if (typeof requireDeadKnown !== 'boolean') throw new RangeError(`options.requireDeadKnown must be a boolean, got ${String(requireDeadKnown)}`);
  if (!Number.isInteger(disagreementsMax) || disagreementsMax < 0 || disagreementsMax > kDisagreementsLimit) {
    throw new RangeError(`options.disagreementsMax must be an integer from 0 to ${kDisagreementsLimit}, got ${disagreementsMax}`);
  }
  const addresses = sim.nodes();
  const running: string[] = [];
  for (const address of addresses) if (sim.isProcessAlive(address) && !sim.isPaused(address)) running.push(address);
  const result: ConvergenceResult = { converged: true, observersChecked: 0, observersSkipped: 0, disagreementCount: 0, disagreements: [], summary: '' };
  for (const observer of options.observers ?? addresses) {
    if (!sim.isProcessAlive(observer)) continue;
    if (sim.isPaused(observer) || !reachesAll(sim, observer, running)) {
      result.observersSkipped++;
      continue;
    }
    result.observersChecked++;
    const view = sim.processOf(observer)!.membersView();
    for (const subject of addresses) {
      if (subject === observer) continue;
      const expected = expectedStatus(sim, subject, requireDeadKnown);
      if (expected === null) continue;
      const actual = view.get(subject) ?? 'absent';
      if (agrees(expected, actual)) continue;
      result.disagreementCount++;
      if (result.disagreements.length < disagreementsMax) result.disagreements.push({ observer, subject, expected, actual });
    }
  }
  result.converged = result.disagreementCount === 0;
  result.summary = summarize(result);
  return result;
}

/** What an observer must think of `subject`, or null when anything goes (a paused process). */
function expectedStatus(sim: NetworkSimulator, subject: string, requireDeadKnown: boolean): ConvergenceDisagreement['expected'] | null {
  if (!sim.isProcessAlive(subject)) return requireDeadKnown ? 'dead or left' : 'not alive';
  return sim.isPaused(subject) ? null : 'alive';
}

function agrees(expected: ConvergenceDisagreement['expected'], actual: SimMemberStatus | 'absent'): boolean {
  if (expected === 'alive') return actual === 'alive';
  if (actual === 'dead' || actual === 'left') return true;
  return expected === 'not alive' && actual === 'absent';
}

/** With no partition every running process reaches every other (their hosts are up), so the pairwise check is skipped. */
function reachesAll(sim: NetworkSimulator, observer: string, running: readonly string[]): boolean {
  if (!sim.hasPartitions()) return true;
  for (const other of running) {
    if (other === observer) continue;
    if (!sim.canReach(observer, other) || !sim.canReach(other, observer)) return false;
  }
  return true;
}

function summarize(result: ConvergenceResult): string {
  const head = `${result.observersChecked} observers checked, ${result.observersSkipped} skipped`;
  if (result.converged) return `converged: ${head}`;
  const examples = result.disagreements.map((d) => `${d.observer} sees ${d.subject} ${d.actual}, expected ${d.expected}`).join('; ');
  return `not converged: ${result.disagreementCount} disagreements (${head}): ${examples}`;
}

// ---- False positives --------------------------------------------------------------

export interface FalseReport {
  observer: string;
  subject: string;
  kind: SimMemberStatus;
  simTimeMs: number;
}

export interface FalsePositiveCounterOptions {
  /** How many false reports to keep as examples (all are counted). */
  examplesMax?: number;
}

const kExamplesMaxDefault = 20;

/**
 * Judges every report() against the ground truth at the moment it is made. A suspicion
 * is false when its subject's process is running and not paused; a death is false on
 * the same terms, and one about a paused process is counted apart as deadWhilePaused,
 * since Lifeguard may legitimately declare a long-paused node dead. Reachability is not
 * considered: a suspicion caused by a partition counts as false.
 *
 * It also remembers, per (subject, observer), the first time the observer reported the
 * subject dead, forgetting it when the observer later reports the subject alive, so
 * detectionLatencyMs measures each crash afresh after a rejoin. Truth is per address:
 * a late report about a previous incarnation of a restarted node counts as false.
 */
export class FalsePositiveCounter implements SimReportListener {
  suspicions = 0;
  falseSuspicions = 0;
  suspicionsWhilePaused = 0;
  deaths = 0;
  falseDeaths = 0;
  deadWhilePaused = 0;
  /** Reports about addresses no node has. */
  reportsAboutStrangers = 0;
  /** The first examplesMax false suspicions and false deaths. */
  readonly examples: FalseReport[] = [];

  private readonly sim: NetworkSimulator;
  private readonly examplesMax: number;
  /** subject → observer → first time the observer reported the subject dead. */
  private readonly firstDead = new Map<string, Map<string, number>>();

  constructor(sim: NetworkSimulator, options: FalsePositiveCounterOptions = {}) {
    const examplesMax = options.examplesMax ?? kExamplesMaxDefault;
    if (!Number.isInteger(examplesMax) || examplesMax < 0 || examplesMax > kDisagreementsLimit) {
      throw new RangeError(`options.examplesMax must be an integer from 0 to ${kDisagreementsLimit}, got ${examplesMax}`);
    }
    this.sim = sim;
    this.examplesMax = examplesMax;
    sim.addReportListener(this);
  }

  onReport(observer: string, event: SimMembershipEvent, simTimeMs: number): void {
    const { kind, subject } = event;
    if (!this.sim.hasNode(subject)) {
      this.reportsAboutStrangers++;
      return;
    }
    if (kind === 'alive') {
      this.firstDead.get(subject)?.delete(observer);
      return;
    }
    const running = this.sim.isProcessAlive(subject);
    const paused = running && this.sim.isPaused(subject);
    if (kind === 'suspect') {
      this.suspicions++;
      if (paused) this.suspicionsWhilePaused++;
      else if (running) {
        this.falseSuspicions++;
        this.recordFalse(observer, event, simTimeMs);
      }
    } else if (kind === 'dead') {
      this.deaths++;
      this.rememberDeath(subject, observer, simTimeMs);
      if (paused) this.deadWhilePaused++;
      else if (running) {
        this.falseDeaths++;
        this.recordFalse(observer, event, simTimeMs);
      }
    }
  }

  /** The first time `observer` reported `subject` dead (since it last reported it alive), or undefined. */
  firstDeadMs(observer: string, subject: string): number | undefined {
    return this.firstDead.get(subject)?.get(observer);
  }

  /**
   * How long after sinceMs (the crash) the last of `observers` reported `subject` dead;
   * -1 while some observer has not. Observers default to every running process but the
   * subject. An observer that already held it dead before sinceMs counts as 0.
   */
  detectionLatencyMs(subject: string, sinceMs: number, observers?: readonly string[]): number {
    const bySubject = this.firstDead.get(subject);
    let latencyMs = 0;
    for (const observer of observers ?? this.sim.nodes()) {
      if (observer === subject) continue;
      if (observers === undefined && !this.sim.isProcessAlive(observer)) continue;
      const firstMs = bySubject?.get(observer);
      if (firstMs === undefined) return -1;
      latencyMs = Math.max(latencyMs, firstMs - sinceMs);
    }
    return latencyMs;
  }

  private rememberDeath(subject: string, observer: string, simTimeMs: number): void {
    let bySubject = this.firstDead.get(subject);
    if (bySubject === undefined) {
      bySubject = new Map();
      this.firstDead.set(subject, bySubject);
    }
    if (!bySubject.has(observer)) bySubject.set(observer, simTimeMs);
  }

  private recordFalse(observer: string, event: SimMembershipEvent, simTimeMs: number): void {
    if (this.examples.length < this.examplesMax) this.examples.push({ observer, subject: event.subject, kind: event.kind, simTimeMs });
  }
}

// ---- Replaying a seed -------------------------------------------------------------

/** The environment variable that overrides a simulation test's seed. */
export const kSeedVariable = 'GALAXY_SIM_SEED';

/**
 * The seed to run with: GALAXY_SIM_SEED when set (so a printed repro line replays the
 * run), else defaultSeed. Throws on a value that is not an unsigned 32-bit integer.
 */
export function withSeed(defaultSeed: number, env: Readonly<Record<string, string | undefined>> = process.env): number {
  const text = env[kSeedVariable];
  const seed = text === undefined || text === '' ? defaultSeed : Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`${kSeedVariable} must be an unsigned 32-bit integer, got "${text ?? defaultSeed}"`);
  }
  return seed;
}

/**
 * A shell command that replays one test with one seed, e.g.
 * `GALAXY_SIM_SEED=123 npx vitest run test/x.test.ts -t "name"`. The name is escaped
 * twice: as a regular expression, since vitest's -t is one, and for double quotes in
 * a POSIX shell.
 */
export function reproLine(seed: number, testFile: string, testName: string): string {
  const pattern = testName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `${kSeedVariable}=${seed} npx vitest run ${shellWord(testFile)} -t "${pattern.replace(/["\\$`]/g, '\\$&')}"`;
}

/** A file path as one shell word: bare when it has only safe characters, else single-quoted. */
function shellWord(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
