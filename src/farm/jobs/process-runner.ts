import { spawn, type ChildProcess } from 'node:child_process';
import { JobsError } from './jobs-error.js';
import { kDrainMs, kKillGraceMs, kLocalProcessesMax } from './jobs-limits.js';
import type { LaunchPlan } from './launch-plan.js';
import type { OutputStream } from './output-journal.js';

/**
 * Runs the processes of jobs on this node. Each process is started without a shell
 * (argv as given) and detached, which makes it the leader of a new session and process
 * group: every signal goes to the whole group (process.kill(-pid)), so a `bash -c` and
 * the pipeline it started stop together. When the leader exits, whatever is left in its
 * group (a background child holding the pipes open) is killed too: nothing a job starts
 * outlives its process, just as nothing a component starts outlives the component.
 *
 * A timeout, and a stop, send SIGTERM (and SIGCONT, so a group paused with SIGSTOP can
 * act on it), then SIGKILL after killGraceMs. The end is reported once the pipes are
 * drained, or drainMs after the leader's exit at most.
 */
export interface ProcessRunnerHandlers {
  output(key: string, stream: OutputStream, bytes: Uint8Array): void;
  ended(key: string, end: LocalProcessEnd): void;
}

export interface LocalProcessEnd {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
}

export interface ProcessRunnerOptions {
  readonly processesMax?: number;
  readonly killGraceMs?: number;
  readonly drainMs?: number;
}

interface Running {
  readonly key: string;
  readonly child: ChildProcess;
  readonly pid: number;
  timedOut: boolean;
  exit: { code: number | null; signal: string | null } | null;
  finished: boolean;
  readonly timers: NodeJS.Timeout[];
}

export class ProcessRunner {
  private readonly running = new Map<string, Running>();
  private readonly processesMax: number;
  private readonly killGraceMs: number;
  private readonly drainMs: number;

  constructor(
    private readonly handlers: ProcessRunnerHandlers,
    options: ProcessRunnerOptions = {},
  ) {
    this.processesMax = options.processesMax ?? kLocalProcessesMax;
    this.killGraceMs = options.killGraceMs ?? kKillGraceMs;
    this.drainMs = options.drainMs ?? kDrainMs;
  }

  get size(): number {
    return this.running.size;
  }

  /** Process group ids of the running processes (for the orphan record). */
  groups(): number[] {
    return [...this.running.values()].map((r) => r.pid);
  }

  has(key: string): boolean {
    return this.running.has(key);
  }

  /**
   * Starts a process; resolves with its pid once it runs, rejects with
   * GALAXY_JOBS_SPAWN_FAILED or _BUSY. `started` is called with the pid before any of its
   * output can be delivered, so the caller can be ready for it.
   */
  async start(key: string, plan: LaunchPlan, timeoutMs?: number, started: (pid: number) => void = () => {}): Promise<number> {
    if (this.running.has(key)) throw new Error(`process ${key} is running already`);
    if (this.running.size >= this.processesMax) throw new JobsError('GALAXY_JOBS_BUSY', `this node runs ${this.running.size} job processes already (at most ${this.processesMax})`);
    const child = spawn(plan.file, plan.args, {
      cwd: plan.cwd,
      env: plan.env,
      ...(plan.uid === null ? {} : { uid: plan.uid }),
      ...(plan.gid === null ? {} : { gid: plan.gid }),
      detached: true,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'error';
      const hint = code === 'ENOENT' ? ` (no such program, or the directory ${plan.cwd} does not exist)` : code === 'EACCES' ? ' (not executable)' : '';
      throw new JobsError('GALAXY_JOBS_SPAWN_FAILED', `cannot start "${plan.file}": ${code}${hint}`);
    }
    // Later errors (a signal to a process already gone) are not the job's failure; its exit says how it ended.
    child.on('error', () => {});
    const entry: Running = { key, child, pid: child.pid!, timedOut: false, exit: null, finished: false, timers: [] };
    this.running.set(key, entry);
    started(entry.pid);
    child.stdout!.on('data', (bytes: Buffer) => this.handlers.output(key, 'stdout', bytes));
    child.stderr!.on('data', (bytes: Buffer) => this.handlers.output(key, 'stderr', bytes));
    child.once('exit', (code, signal) => this.exited(entry, code, signal));
    child.once('close', (code, signal) => {
      this.exited(entry, code, signal);
      this.finish(entry);
    });
    if (timeoutMs !== undefined) {
      entry.timers.push(
        setTimeout(() => {
          entry.timedOut = true;
          this.escalate(entry);
        }, timeoutMs),
      );
    }
    return entry.pid;
  }

  /** Sends `signal` to the process's group; false if it is not running. */
  signal(key: string, signal: NodeJS.Signals): boolean {
    const entry = this.running.get(key);
    if (entry === undefined || entry.exit !== null) return false;
    signalGroup(entry.pid, signal);
    return true;
  }

  /** SIGTERM (and SIGCONT), then SIGKILL after killGraceMs; false if it is not running. */
  terminate(key: string): boolean {
    const entry = this.running.get(key);
    if (entry === undefined || entry.exit !== null) return false;
    this.escalate(entry);
    return true;
  }

  /**
   * SIGKILLs every running process's group, synchronously: for the component's last
   * moments (process 'exit'), when no timer will run again. Their ends are not reported.
   */
  killAll(): void {
    for (const entry of this.running.values()) {
      for (const timer of entry.timers) clearTimeout(timer);
      signalGroup(entry.pid, 'SIGKILL');
    }
  }

  private escalate(entry: Running): void {
    signalGroup(entry.pid, 'SIGTERM');
    signalGroup(entry.pid, 'SIGCONT');
    entry.timers.push(setTimeout(() => signalGroup(entry.pid, 'SIGKILL'), this.killGraceMs));
  }

  private exited(entry: Running, code: number | null, signal: NodeJS.Signals | null): void {
    if (entry.exit !== null) return;
    entry.exit = { code, signal };
    for (const timer of entry.timers.splice(0)) clearTimeout(timer);
    // The leader is gone: end what it left in its group, which may be holding the pipes open.
    signalGroup(entry.pid, 'SIGKILL');
    entry.timers.push(
      setTimeout(() => {
        entry.child.stdout?.destroy();
        entry.child.stderr?.destroy();
        this.finish(entry);
      }, this.drainMs),
    );
  }

  private finish(entry: Running): void {
    if (entry.finished || entry.exit === null) return;
    entry.finished = true;
    for (const timer of entry.timers.splice(0)) clearTimeout(timer);
    this.running.delete(entry.key);
    this.handlers.ended(entry.key, { exitCode: entry.exit.code, signal: entry.exit.signal, timedOut: entry.timedOut });
  }
}

/** Signals a process group; a group already gone (ESRCH) is not an error. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is empty.
  }
}
