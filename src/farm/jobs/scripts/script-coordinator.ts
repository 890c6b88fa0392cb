import { errorCode, errorMessage } from '../jobs-error.js';
import { jobCoordinator, makeJobId } from '../job-id.js';
import type { JobCreateRequest } from '../job-spec.js';
import type { JobView, JobWaitView, ProcessView } from '../job-view.js';
import type { FarmCall } from '../job-worker.js';
import { kJobsServices } from '../jobs-wire.js';
import { lastFitting } from '../output-journal.js';
import { resolvedNodes, resolveRequest } from '../target-resolution.js';
import { batchSize, describeBatchLimit, kNoBatchLimit, parseBatchLimit } from './batch-plan.js';
import { ScriptsError } from './scripts-error.js';
import {
  kBatchWaitMs,
  kScriptJobOutputBytes,
  kScriptNodesMax,
  kScriptOutputBudgetChars,
  kScriptOutputCharsKept,
  kScriptRunsMax,
  kScriptWaitersMax,
} from './scripts-limits.js';
import { splitPhases } from './script-phases.js';
import { ScriptRun, type BatchAction, type NodeResult } from './script-run.js';
import type { ScriptRunRequest } from './script-spec.js';
import { fitView, mergedPhases, phaseResults, scriptSummary, type RunMeta, type ScriptSummary, type ScriptView } from './script-view.js';
import { kResultsPageMax, kScriptsServices } from './scripts-wire.js';
import { describeSuccessRule, kEveryNodeMustSucceed, parseSuccessRule } from './success-rule.js';

/**
 * Runs scripts on sets of nodes, in phases and batches, through the jobs service: each
 * batch of each phase is one job (`bash -c SCRIPT` on the batch's nodes, created on this
 * node's jobs component), waited for before the next batch starts, so the barrier and
 * the concurrency limit hold by construction. The run's state machine (ScriptRun)
 * decides what runs next; this class does the calls, keeps the runs, answers waits, and
 * sends each run's record to the management nodes (farm members whose `roles` tag holds
 * `management`) after every phase and at the end.
 */
export interface ScriptCoordinatorOptions {
  readonly selfId: string;
  readonly call: FarmCall;
  readonly now?: () => number;
  /** A farm event (progress: phase started and ended, run finished). */
  readonly raise?: (type: string, severity: 'info' | 'warning' | 'error', body: Record<string, unknown>) => void;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  readonly runsMax?: number;
  readonly outputBudgetChars?: number;
  readonly batchWaitMs?: number;
}

/** A scripts.wait answer: the run as it is, and its version to pass next time. */
export interface ScriptProgress {
  readonly version: number;
  readonly finished: boolean;
  readonly run: ScriptSummary;
}

interface Entry {
  readonly meta: RunMeta & { logs: { stored: string[]; failed: string[] } };
  readonly run: ScriptRun;
  readonly request: ScriptRunRequest;
  readonly reservedChars: number;
  currentJob: string | null;
  stopSent: boolean;
}

const kForwardMarginMs = 5000;
/** Processes fetched one by one at once, when a batch's show left their output out. */
const kOutputFetchConcurrency = 8;

export class ScriptCoordinator {
  private readonly runs = new Map<string, Entry>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private waiterCount = 0;
  private reservedChars = 0;
  private sequence = 0;
  private closed = false;
  private readonly now: () => number;
  private readonly runsMax: number;
  private readonly outputBudgetChars: number;
  private readonly batchWaitMs: number;

  constructor(private readonly options: ScriptCoordinatorOptions) {
    this.now = options.now ?? Date.now;
    this.runsMax = options.runsMax ?? kScriptRunsMax;
    this.outputBudgetChars = options.outputBudgetChars ?? kScriptOutputBudgetChars;
    this.batchWaitMs = options.batchWaitMs ?? kBatchWaitMs;
  }

  get size(): number {
    return this.runs.size;
  }

  close(): void {
    this.closed = true;
    for (const entry of this.runs.values()) this.stopEntry(entry, 'the scripts component stopped');
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
  }

  async run(request: ScriptRunRequest, by: string): Promise<ScriptSummary> {
    if (this.closed) throw new ScriptsError('GALAXY_SCRIPTS_UNAVAILABLE', 'the scripts component is stopping');
    const phases = splitPhases(request.script, request.phases);
    const limit = request.batch === undefined ? kNoBatchLimit : parseBatchLimit(request.batch);
    const rule = request.minSuccess === undefined ? kEveryNodeMustSucceed : parseSuccessRule(request.minSuccess);
    const nodes = resolvedNodes(request.target, await this.options.call(this.options.selfId, 'farm.resolve', resolveRequest(request.target)), kScriptNodesMax);
    const reservedChars = nodes.length * phases.length * 2 * kScriptOutputCharsKept;
    this.makeRoom(reservedChars);
    const createdAtMs = this.now();
    const id = makeJobId(this.options.selfId, createdAtMs, ++this.sequence);
    const run = new ScriptRun(nodes, phases, batchSize(limit, nodes.length), rule);
    const meta = { id, name: request.name ?? null, createdBy: by, createdAtMs, target: request.target, batch: describeBatchLimit(limit), minSuccess: describeSuccessRule(rule), logs: { stored: [] as string[], failed: [] as string[] } };
    const entry: Entry = { meta, run, request, reservedChars, currentJob: null, stopSent: false };
    this.runs.set(id, entry);
    this.reservedChars += reservedChars;
    this.options.raise?.('scripts.started', 'info', { run: id, name: meta.name, nodes: nodes.length, phases: phases.length, batchSize: run.batchSize, by });
    void this.drive(entry);
    return scriptSummary(meta, run);
  }

  list(): ScriptSummary[] {
    return [...this.runs.values()].reverse().map((e) => scriptSummary(e.meta, e.run));
  }

  async show(runId: string, options: { merged?: boolean; phase?: number; offset?: number; limit?: number } = {}): Promise<ScriptView> {
    if (this.elsewhere(runId)) return (await this.forward(runId, kScriptsServices.show, { runId, ...options }, 0)) as ScriptView;
    const { meta, run } = this.get(runId);
    const summary = scriptSummary(meta, run);
    if (options.merged === true) return fitView({ ...summary, merged: mergedPhases(run) });
    if (options.phase !== undefined) return fitView({ ...summary, results: phaseResults(run, options.phase, options.offset ?? 0, options.limit ?? kResultsPageMax) });
    return summary;
  }

  async stop(runId: string): Promise<ScriptSummary> {
    if (this.elsewhere(runId)) return (await this.forward(runId, kScriptsServices.stop, { runId }, 0)) as ScriptSummary;
    const entry = this.get(runId);
    this.stopEntry(entry, 'stopped by an operator');
    return scriptSummary(entry.meta, entry.run);
  }

  /** The run once its version differs from `version` (or it finished), or after timeoutMs. */
  async wait(runId: string, version: number | undefined, timeoutMs: number): Promise<ScriptProgress> {
    if (this.elsewhere(runId)) return (await this.forward(runId, kScriptsServices.wait, { runId, ...(version === undefined ? {} : { version }), timeoutMs }, timeoutMs)) as ScriptProgress;
    const entry = this.get(runId);
    const ready = () => entry.run.finished || (version !== undefined && entry.run.version !== version);
    if (!ready() && version !== undefined && timeoutMs > 0 && !this.closed && this.waiterCount < kScriptWaitersMax) await this.hold(runId, timeoutMs, ready);
    return { version: entry.run.version, finished: entry.run.finished, run: scriptSummary(entry.meta, entry.run) };
  }

  // ---- driving a run -------------------------------------------------------------

  private async drive(entry: Entry): Promise<void> {
    const { run } = entry;
    try {
      for (let action = run.next(this.now()); action !== null; action = run.next(this.now())) {
        this.changed(entry);
        const phase = run.phaseRecords[action.phase]!;
        if (action.batch === 0) this.options.raise?.('scripts.phase-started', 'info', { run: entry.meta.id, phase: phase.number, name: phase.name });
        const results = await this.runBatch(entry, action);
        run.batchFinished(action, results, this.now());
        this.changed(entry);
        if (phase.state !== 'running') {
          this.options.raise?.('scripts.phase-ended', phase.state === 'succeeded' ? 'info' : 'warning', { run: entry.meta.id, phase: phase.number, name: phase.name, state: phase.state, succeeded: phase.succeeded, failed: phase.failed });
          if (run.state === 'running') await this.storeLogs(entry);
        }
      }
    } catch (error) {
      run.fail(`${errorCode(error) ?? 'error'}: ${errorMessage(error)}`, this.now());
    }
    entry.currentJob = null;
    this.changed(entry);
    this.options.raise?.('scripts.finished', run.state === 'succeeded' ? 'info' : 'warning', { run: entry.meta.id, state: run.state, reason: run.reason });
    await this.storeLogs(entry);
  }

  /** One batch as one job: created, waited for (stopping it if the run is stopped meanwhile), its results read. */
  private async runBatch(entry: Entry, action: BatchAction): Promise<NodeResult[]> {
    const { request, run, meta } = entry;
    const phases = run.phases.length;
    const job: JobCreateRequest = {
      target: { nodes: [...action.nodes] },
      command: [request.interpreter ?? 'bash', '-c', action.script.text, 'galaxy-script', ...(request.args ?? [])],
      env: { ...request.env, GALAXY_SCRIPT_ID: meta.id, GALAXY_PHASE: String(action.script.number), GALAXY_PHASE_NAME: action.script.name, GALAXY_PHASES: String(phases) },
      outputBytesMax: kScriptJobOutputBytes,
      ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
      ...(request.memoryMb === undefined ? {} : { memoryMb: request.memoryMb }),
      ...(request.user === undefined ? {} : { user: request.user }),
      ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
    };
    // The script service's own variables come last, so a request cannot override them.
    const created = (await this.callSelf(kJobsServices.create, { request: job, by: `script ${meta.id} (${meta.createdBy})`.slice(0, 128) })) as JobView;
    entry.currentJob = created.id;
    run.batchStarted(action, created.id);
    this.changed(entry);
    for (;;) {
      if (run.state !== 'running' && !entry.stopSent) await this.stopJob(entry);
      const waited = (await this.callSelf(kJobsServices.wait, { jobId: created.id, timeoutMs: this.batchWaitMs }, this.batchWaitMs + kForwardMarginMs)) as JobWaitView;
      if (waited.finished) break;
    }
    entry.currentJob = null;
    return this.results(created.id);
  }

  /** The batch job's processes as node results, with the end of their output. */
  private async results(jobId: string): Promise<NodeResult[]> {
    const view = (await this.callSelf(kJobsServices.show, { jobId, output: true })) as JobView;
    const processes = [...view.processes];
    const missing = processes.filter((p) => p.stdout === undefined).map((p) => p.index);
    for (let at = 0; at < missing.length; at += kOutputFetchConcurrency) {
      await Promise.all(
        missing.slice(at, at + kOutputFetchConcurrency).map(async (index) => {
          const one = (await this.callSelf(kJobsServices.show, { jobId, output: true, process: index })) as JobView;
          processes[index] = one.processes[0] ?? processes[index]!;
        }),
      );
    }
    return processes.map((p) => nodeResult(p, jobId));
  }

  private stopEntry(entry: Entry, reason: string): void {
    if (entry.run.state !== 'running') return;
    entry.run.stop(reason, this.now());
    this.changed(entry);
    if (entry.currentJob !== null) void this.stopJob(entry);
  }

  private async stopJob(entry: Entry): Promise<void> {
    if (entry.currentJob === null || entry.stopSent) return;
    entry.stopSent = true;
    try {
      await this.callSelf(kJobsServices.stop, { jobId: entry.currentJob });
    } catch (error) {
      this.options.log?.('warn', `could not stop job ${entry.currentJob} of script run ${entry.meta.id}: ${errorMessage(error)}`);
    }
  }

  /** Sends the run's record to every live management node; remembers where it was stored. */
  private async storeLogs(entry: Entry): Promise<void> {
    let members: unknown;
    try {
      members = await this.callSelf('farm.members', {});
    } catch (error) {
      this.options.log?.('warn', `script run ${entry.meta.id}: farm.members failed, log not stored: ${errorMessage(error)}`);
      return;
    }
    const managers = managementNodes(members);
    const record = fitView({ ...scriptSummary(entry.meta, entry.run), merged: mergedPhases(entry.run) });
    await Promise.all(
      managers.map(async (node) => {
        try {
          await this.options.call(node, kScriptsServices.log, { record });
          if (!entry.meta.logs.stored.includes(node)) entry.meta.logs.stored.push(node);
          entry.meta.logs.failed = entry.meta.logs.failed.filter((n) => n !== node);
        } catch (error) {
          if (!entry.meta.logs.failed.includes(node)) entry.meta.logs.failed.push(node);
          this.options.log?.('warn', `script run ${entry.meta.id}: log not stored on ${node}: ${errorMessage(error)}`);
        }
      }),
    );
    if (managers.length === 0) this.options.log?.('warn', `script run ${entry.meta.id}: no live management node to keep its log`);
    this.changed(entry);
  }

  // ---- bookkeeping -----------------------------------------------------------------

  private get(runId: string): Entry {
    const entry = this.runs.get(runId);
    if (entry === undefined) throw new ScriptsError('GALAXY_SCRIPTS_UNKNOWN_RUN', `no script run ${runId} on its coordinator (never started, or forgotten after it finished)`);
    return entry;
  }

  private makeRoom(chars: number): void {
    if (chars > this.outputBudgetChars) throw new ScriptsError('GALAXY_SCRIPTS_BUSY', `the run would keep up to ${chars} characters of output, over the coordinator's whole budget of ${this.outputBudgetChars}: use fewer nodes or phases`);
    const fits = () => this.runs.size < this.runsMax && this.reservedChars + chars <= this.outputBudgetChars;
    for (const [id, entry] of this.runs) {
      if (fits()) return;
      if (!entry.run.finished) continue;
      this.runs.delete(id);
      this.reservedChars -= entry.reservedChars;
    }
    if (!fits()) throw new ScriptsError('GALAXY_SCRIPTS_BUSY', `the coordinator holds ${this.runs.size} script runs, none finished to make room: retry when some finish`);
  }

  private changed(entry: Entry): void {
    const set = this.waiters.get(entry.meta.id);
    if (set !== undefined) for (const wake of [...set]) wake();
  }

  private hold(runId: string, timeoutMs: number, ready: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(runId) ?? new Set<() => void>();
      this.waiters.set(runId, set);
      const wake = () => {
        if (!ready() && !this.closed && !timedOut) return;
        clearTimeout(timer);
        if (set.delete(wake)) this.waiterCount--;
        if (set.size === 0) this.waiters.delete(runId);
        resolve();
      };
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        wake();
      }, timeoutMs);
      set.add(wake);
      this.waiterCount++;
    });
  }

  private callSelf(service: string, body: unknown, timeoutMs?: number): Promise<unknown> {
    return this.options.call(this.options.selfId, service, body, timeoutMs === undefined ? undefined : { timeoutMs });
  }

  private elsewhere(runId: string): boolean {
    return jobCoordinator(runId) !== this.options.selfId;
  }

  private async forward(runId: string, service: string, body: unknown, holdMs: number): Promise<unknown> {
    const coordinator = jobCoordinator(runId);
    try {
      return await this.options.call(coordinator, service, body, { timeoutMs: holdMs + kForwardMarginMs });
    } catch (error) {
      const code = errorCode(error);
      if (code !== undefined && code.startsWith('GALAXY_SCRIPTS_')) throw error;
      throw new ScriptsError('GALAXY_SCRIPTS_COORDINATOR_UNREACHABLE', `script run ${runId} is held by node ${coordinator}, which could not be asked: ${errorMessage(error)}`);
    }
  }
}

/** A batch job's process as the run's result for its node: the last kScriptOutputCharsKept of each stream. */
export function nodeResult(process: ProcessView, jobId: string): NodeResult {
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
  return {
    node: process.node,
    state: process.state,
    exitCode: process.exitCode,
    signal: process.signal,
    reason: process.reason,
    stdout: lastFitting(process.stdout ?? '', kScriptOutputCharsKept),
    stderr: lastFitting(process.stderr ?? '', kScriptOutputCharsKept),
    startedAtMs: ms(process.startedAt),
    endedAtMs: ms(process.endedAt),
    jobId,
  };
}

/** Live members whose roles tag (comma-separated) names `management`. */
export function managementNodes(members: unknown): string[] {
  if (!Array.isArray(members)) return [];
  return members.flatMap((m: unknown) => {
    const member = m as { id?: unknown; status?: unknown; tags?: { roles?: unknown } } | null;
    if (typeof member?.id !== 'string' || member.status !== 'alive') return [];
    const roles = typeof member.tags?.roles === 'string' ? member.tags.roles.split(',') : [];
    return roles.includes('management') ? [member.id] : [];
  });
}
