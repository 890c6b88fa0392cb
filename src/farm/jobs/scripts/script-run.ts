import type { ProcessState } from '../process-state.js';
import { planBatches } from './batch-plan.js';
import type { ScriptPhase } from './script-phases.js';
import { phaseVerdict, requiredSuccesses, type SuccessRule } from './success-rule.js';

/**
 * One run of a script on a set of nodes, as a pure state machine: it says which batch
 * to run next and takes each batch's results; the coordinator does the running (through
 * the jobs service) and the clock. Phases run in order with a barrier between them:
 * `next()` offers no batch of phase k+1 until every batch of phase k has finished. Within
 * a phase, batches run one at a time (the concurrency limit), and after each one the
 * phase's success rule is checked: once it cannot be met, the phase's remaining nodes
 * are skipped, the later phases too, and the run fails.
 *
 *     run:    running -> succeeded | failed | stopped;  running -> stopping -> stopped (a batch was running)
 *     phase:  pending -> running -> succeeded | failed | stopped;  pending -> skipped
 */
export type RunState = 'running' | 'stopping' | 'succeeded' | 'failed' | 'stopped';
export type PhaseState = 'pending' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'skipped';

/** How one node did in one phase. 'skipped': the phase stopped before the node's batch. */
export interface NodeResult {
  readonly node: string;
  readonly state: ProcessState | 'skipped';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly reason: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly startedAtMs: number | null;
  readonly endedAtMs: number | null;
  /** The job that ran the node's batch (its full captured output, while the jobs service keeps it). */
  readonly jobId: string | null;
}

export interface PhaseRecord {
  readonly number: number;
  readonly name: string;
  state: PhaseState;
  readonly required: number;
  succeeded: number;
  failed: number;
  readonly batches: string[][];
  batchesRun: number;
  readonly jobIds: string[];
  startedAtMs: number | null;
  endedAtMs: number | null;
  readonly results: Map<string, NodeResult>;
}

export interface BatchAction {
  /** Index into phases (0-based; the phase's number is one more). */
  readonly phase: number;
  readonly batch: number;
  readonly nodes: readonly string[];
  readonly script: ScriptPhase;
}

export function nodeSucceeded(result: NodeResult): boolean {
  return result.state === 'exited' && result.exitCode === 0;
}

export class ScriptRun {
  state: RunState = 'running';
  /** Why the run failed or stopped. */
  reason: string | null = null;
  finishedAtMs: number | null = null;
  /** Bumped on every change, for waiters. */
  version = 0;
  readonly phaseRecords: PhaseRecord[];
  private inFlight: BatchAction | null = null;

  constructor(
    readonly nodes: readonly string[],
    readonly phases: readonly ScriptPhase[],
    readonly batchSize: number,
    readonly rule: SuccessRule,
  ) {
    if (nodes.length === 0) throw new RangeError('a script run needs at least one node');
    if (phases.length === 0) throw new RangeError('a script run needs at least one phase');
    const batches = planBatches(nodes, batchSize);
    const required = requiredSuccesses(rule, nodes.length);
    this.phaseRecords = phases.map((p) => ({
      number: p.number,
      name: p.name,
      state: 'pending',
      required,
      succeeded: 0,
      failed: 0,
      batches,
      batchesRun: 0,
      jobIds: [],
      startedAtMs: null,
      endedAtMs: null,
      results: new Map(),
    }));
  }

  /** The batch to run now, or null: the run is over, or a batch is running (call batchFinished first). */
  next(nowMs: number): BatchAction | null {
    if (this.state !== 'running' || this.inFlight !== null) return null;
    const index = this.phaseRecords.findIndex((p) => p.state === 'pending' || p.state === 'running');
    if (index < 0) return null;
    const phase = this.phaseRecords[index]!;
    if (phase.state === 'pending') {
      phase.state = 'running';
      phase.startedAtMs = nowMs;
      this.version++;
    }
    this.inFlight = { phase: index, batch: phase.batchesRun, nodes: phase.batches[phase.batchesRun]!, script: this.phases[index]! };
    return this.inFlight;
  }

  /** The batch's job, once created. */
  batchStarted(action: BatchAction, jobId: string): void {
    this.phaseRecords[action.phase]!.jobIds.push(jobId);
    this.version++;
  }

  /** The results of the batch `next()` gave; a node missing from them is counted lost. */
  batchFinished(action: BatchAction, results: readonly NodeResult[], nowMs: number): void {
    if (this.inFlight !== action) throw new Error('batchFinished for a batch that is not the one in flight');
    this.inFlight = null;
    const phase = this.phaseRecords[action.phase]!;
    const byNode = new Map(results.map((r) => [r.node, r]));
    for (const node of action.nodes) {
      const result = byNode.get(node) ?? missing(node, nowMs);
      phase.results.set(node, result);
      if (nodeSucceeded(result)) phase.succeeded++;
      else phase.failed++;
    }
    phase.batchesRun++;
    this.version++;
    if (this.state === 'stopping') {
      // Stopped while this batch ran: its results are kept, and the phase and the run end with it.
      if (phase.state === 'running') this.endPhase(phase, 'stopped', nowMs);
      this.finish('stopped', this.reason, nowMs);
      return;
    }
    const verdict = phaseVerdict(phase.required, this.nodes.length, phase.succeeded, phase.failed);
    if (verdict === 'cannot-meet') this.failPhase(action.phase, nowMs);
    else if (verdict === 'met') this.endPhase(phase, 'succeeded', nowMs);
    if (this.phaseRecords.every((p) => p.state === 'succeeded')) this.finish('succeeded', null, nowMs);
  }

  /**
   * The operator stopped the run: no batch after the running one. With a batch running
   * the run is `stopping` until that batch's results are in; else it is `stopped` at once.
   */
  stop(reason: string, nowMs: number): void {
    if (this.state !== 'running') return;
    this.skipRemaining('stopped', nowMs);
    if (this.inFlight === null) return this.finish('stopped', reason, nowMs);
    this.state = 'stopping';
    this.reason = reason;
    this.version++;
  }

  /** Whether the run is over: nothing runs and nothing will. */
  get finished(): boolean {
    return this.state !== 'running' && this.state !== 'stopping';
  }

  /** An operating failure (the jobs service refused a batch): the run fails with the reason. */
  fail(reason: string, nowMs: number): void {
    if (this.finished) return;
    this.inFlight = null;
    this.skipRemaining('failed', nowMs);
    this.finish('failed', reason, nowMs);
  }

  /** Whether a batch is running now. */
  get busy(): boolean {
    return this.inFlight !== null;
  }

  /** Releases the batch in flight without results (after a stop, once its job has ended). */
  abandonBatch(): void {
    this.inFlight = null;
  }

  private failPhase(index: number, nowMs: number): void {
    const phase = this.phaseRecords[index]!;
    this.skipRemaining('failed', nowMs);
    this.finish('failed', `phase ${phase.number} (${phase.name}): ${phase.succeeded} of ${this.nodes.length} nodes succeeded, ${phase.required} required`, nowMs);
  }

  /**
   * Nodes of unrun batches of the running phase are skipped, and later phases. The
   * running phase ends as `ending` unless a batch of it still runs (batchFinished ends it).
   */
  private skipRemaining(ending: PhaseState, nowMs: number): void {
    for (const phase of this.phaseRecords) {
      if (phase.state === 'pending') {
        phase.state = 'skipped';
        continue;
      }
      if (phase.state !== 'running') continue;
      const runningBatch = this.inFlight !== null && this.phaseRecords[this.inFlight.phase] === phase ? this.inFlight.batch : -1;
      for (let b = phase.batchesRun; b < phase.batches.length; b++) {
        if (b === runningBatch) continue;
        for (const node of phase.batches[b]!) if (!phase.results.has(node)) phase.results.set(node, skipped(node));
      }
      if (runningBatch < 0) this.endPhase(phase, ending, nowMs);
    }
  }

  private endPhase(phase: PhaseRecord, state: PhaseState, nowMs: number): void {
    phase.state = state;
    phase.endedAtMs = nowMs;
    this.version++;
  }

  private finish(state: RunState, reason: string | null, nowMs: number): void {
    this.state = state;
    this.reason = reason;
    this.finishedAtMs = nowMs;
    this.version++;
  }
}

function skipped(node: string): NodeResult {
  return { node, state: 'skipped', exitCode: null, signal: null, reason: 'the phase stopped before this node\'s batch', stdout: '', stderr: '', startedAtMs: null, endedAtMs: null, jobId: null };
}

function missing(node: string, nowMs: number): NodeResult {
  return { node, state: 'lost', exitCode: null, signal: null, reason: 'no result came back for this node', stdout: '', stderr: '', startedAtMs: null, endedAtMs: nowMs, jobId: null };
}
