import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentStatus } from '../component-status.js';
import { afterCrash, kNoCrashes, type CrashHistory } from './component-backoff.js';
import { ComponentError, errorText } from './component-error.js';
import type { ComponentCounters, ComponentEventType, ComponentLifecycleEvent, ComponentSink } from './component-events.js';
import type { ComponentHostSettings } from './component-host-options.js';
import { checkComponentMessage, peerPayloadProblem, type ComponentDropReason } from './component-limits.js';
import type { ComponentPeer, ComponentToHost, HostToComponent } from './component-protocol.js';
import { ComponentRpcError } from './component-rpc-error.js';
import { ComponentRpcRelay } from './component-rpc-relay.js';
import { checkedConfig, type CheckedComponentSpec } from './component-spec.js';
import { splitLines } from './output-lines.js';
import { RateWindow } from './rate-window.js';

type ComponentState = ComponentStatus['state'];
type WithoutSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;
type ControlRequest = WithoutSeq<Extract<HostToComponent, { seq: number }>>;
type ResultMessage = Extract<ComponentToHost, { type: 'result' }>;

/**
 * How long the host waits after a process's 'exit' for its IPC channel to close, so a
 * fatal report written just before the exit is read first; and how long a closed channel
 * may precede the exit before the host concludes the component closed it on purpose.
 * A helper process holding the channel open must not delay the restart longer than this.
 */
const kCloseGraceMs = 250;

/**
 * Variables not passed to components: the agent's own settings and secrets (GALAXY_*,
 * e.g. a farm key given in the environment) are not theirs to read, and NODE_OPTIONS
 * would give each component the agent's inspector port or heap size.
 */
const kHiddenEnvironment = (key: string): boolean => key.startsWith('GALAXY_') || key === 'NODE_OPTIONS';

/** One process of a component, from fork to exit. */
interface Link {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  readonly resolveExited: () => void;
  /** Messages handed to child.send whose callback has not run yet. */
  backlog: number;
  /** Set once the exit was handled; later events of this process are ignored. */
  ended: boolean;
  exitCode: number | null;
  signal: string | null;
  /** The component's own report of an uncaught error. */
  fatal: string | null;
  /** Why the host ended or failed the process (a failed init, a hang). */
  failure: string | null;
  /** Its farm RPC: calls it made, requests to it, the services it declared. */
  readonly rpc: ComponentRpcRelay;
}

interface Pending {
  readonly resolve: (result: ResultMessage) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer));
}

/**
 * Signals the component's whole process group. Each component is forked detached, which
 * makes it the leader of a group of its own, so whatever it started (a helper, a shell
 * pipeline) is signalled with it and nothing it spawned outlives it.
 */
function signalGroup(link: Link, signal: NodeJS.Signals): void {
  const pid = link.child.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already (ESRCH); the leader alone may remain if it left the group.
    link.child.kill(signal);
  }
}

/** SIGKILLs what remains of an exited component's process group, if anything does. */
function killLeftovers(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group, the usual case.
  }
}

function describeExit(code: number | null, signal: string | null): string {
  if (signal !== null) return `killed by ${signal}`;
  return code === null ? 'exited' : `exited with code ${code}`;
}

/**
 * Runs one component: forks its process, drives it through the service control
 * interface, watches it, and restarts it with backoff when it crashes. It never throws
 * into the agent on the component's account: a child's error, exit, hang or bad message
 * becomes a state, an event and a counter.
 *
 * States: stopped -> starting -> running -> stopping -> stopped; a crash (unasked exit,
 * failed init or start, no answer in time) goes crashed -> backoff -> starting, or to
 * failed after too many crashes in the give-up window. Operator calls (start, stop,
 * restart) run one at a time; the backoff timer's restarts may run beside them, so every
 * step after an await checks that its process is still the current one.
 */
export class ComponentSupervisor {
  readonly name: string;
  readonly kind: string;
  private config: Readonly<Record<string, unknown>>;
  private state: ComponentState = 'stopped';
  private link: Link | null = null;
  private restarts = 0;
  private history: CrashHistory = kNoCrashes;
  private lastError: string | null = null;
  private startedAt: string | null = null;
  private runningSinceMs: number | null = null;
  private backoffTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private launching: Promise<void> | null = null;
  private operations: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  private peers: readonly ComponentPeer[] | null = null;
  private values: Readonly<Record<string, number | string>> | null = null;
  private readonly messageRate: RateWindow;
  private readonly outputRate: RateWindow;
  private readonly count = {
    crashes: 0,
    unresponsive: 0,
    dropped: { malformed: 0, oversized: 0, rateLimited: 0, unsolicited: 0 } satisfies Record<ComponentDropReason, number>,
    peerDropped: 0,
    outputLinesDropped: 0,
    listenerErrors: 0,
    rpc: { calls: 0, requests: 0, refused: 0, timeouts: 0 },
  };

  constructor(
    private readonly spec: CheckedComponentSpec,
    private readonly settings: ComponentHostSettings,
    private readonly sink: ComponentSink,
  ) {
    this.name = spec.name;
    this.kind = spec.kind;
    this.config = spec.config;
    this.messageRate = new RateWindow(settings.messagesPerSecondMax);
    this.outputRate = new RateWindow(settings.outputLinesPerSecondMax);
  }

  // ---- operator calls ------------------------------------------------------------

  /** Starts the component; resolves once it runs or its first attempt failed (then it retries with backoff). */
  start(): Promise<void> {
    return this.serial(() => this.startNow());
  }

  /** Stops it gracefully: stop message, IPC close, SIGTERM, SIGKILL, each after stopTimeoutMs. */
  stop(): Promise<void> {
    return this.serial(() => this.stopNow());
  }

  /** Stops and starts it; also the way out of 'failed' (the crash history starts afresh). */
  restart(): Promise<void> {
    return this.serial(async () => {
      const wasStarted = this.state !== 'stopped';
      await this.stopNow();
      this.history = kNoCrashes;
      if (wasStarted) this.restarts++;
      await this.startNow();
    });
  }

  /**
   * Sends a configuration to the live component, which may refuse it (the error comes
   * back as GALAXY_COMPONENT_CONFIG_REJECTED). Once accepted, or at once if no process is
   * live, it is kept and given to every later start.
   */
  async configure(config: unknown): Promise<void> {
    const checked = checkedConfig(config);
    const link = this.link;
    if ((this.state === 'running' || this.state === 'starting') && link !== null) {
      const result = await this.request(link, { type: 'configure', config: checked }, 'kill');
      if (!result.ok) throw new ComponentError('GALAXY_COMPONENT_CONFIG_REJECTED', `${this.name} refused the configuration: ${result.error ?? 'no reason given'}`);
    }
    this.config = checked;
    this.report('configured', {});
  }

  /** Asks the running component for its own status record. */
  async query(): Promise<Readonly<Record<string, unknown>>> {
    const link = this.link;
    if (this.state !== 'running' || link === null) throw new ComponentError('GALAXY_COMPONENT_NOT_RUNNING', `${this.name} is ${this.state}`);
    const result = await this.request(link, { type: 'status' }, 'kill');
    if (!result.ok) throw new ComponentError('GALAXY_COMPONENT_FAILED', `${this.name}: ${result.error ?? 'status failed'}`);
    return result.status ?? {};
  }

  /** Remembers where the peers are and tells the running component (and every later start). */
  membership(peers: readonly ComponentPeer[]): void {
    this.peers = peers;
    if (this.state === 'running' && this.link !== null) this.post(this.link, { type: 'membership', peers });
  }

  /** Hands a peer's message to the running component; false (and counted) if it was dropped. */
  deliverPeer(from: string, payload: Uint8Array): boolean {
    const link = this.link;
    if (this.state !== 'running' || link === null || link.backlog >= this.settings.sendBacklogMax || peerPayloadProblem(payload) !== null) {
      this.count.peerDropped++;
      return false;
    }
    return this.post(link, { type: 'peer', from, payload });
  }

  /**
   * Delivers a request for one of its farm RPC services to the running component and
   * resolves with the answer's body; rejects with ComponentRpcError (GALAXY_RPC_NOT_RUNNING,
   * _UNKNOWN_SERVICE, _TIMEOUT, _BUSY, _TOO_LARGE, or the handler's own code).
   */
  serve(service: string, from: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const link = this.link;
    if (this.state !== 'running' || link === null) {
      this.count.rpc.refused++;
      return Promise.reject(new ComponentRpcError('GALAXY_RPC_NOT_RUNNING', `${this.name} is ${this.state}`));
    }
    return link.rpc.request(service, from, body, timeoutMs);
  }

  status(): ComponentStatus {
    return {
      name: this.name,
      kind: this.kind,
      state: this.state,
      pid: this.link?.child.pid ?? null,
      restarts: this.restarts,
      lastError: this.lastError,
      startedAt: this.startedAt,
      config: this.config,
    };
  }

  counters(): ComponentCounters {
    return { name: this.name, ...this.count, dropped: { ...this.count.dropped }, rpc: { ...this.count.rpc } };
  }

  /** The last values the component posted, or null. */
  lastValues(): Readonly<Record<string, number | string>> | null {
    return this.values;
  }

  // ---- lifecycle -----------------------------------------------------------------

  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.operations.then(operation);
    this.operations = result.catch(() => undefined);
    return result;
  }

  private async startNow(): Promise<void> {
    switch (this.state) {
      case 'running':
        return;
      case 'starting':
        return this.launching ?? undefined;
      case 'backoff':
        this.clearBackoff();
        break;
      case 'stopped':
      case 'failed':
        this.history = kNoCrashes;
        break;
      case 'stopping':
      case 'crashed':
        // Neither outlives a synchronous step or a serial operation.
        throw new Error(`component ${this.name}: start found the transient state ${this.state}`);
    }
    await this.launch();
  }

  private launch(): Promise<void> {
    this.state = 'starting';
    const launching = this.runLaunch().finally(() => {
      if (this.launching === launching) this.launching = null;
    });
    this.launching = launching;
    return launching;
  }

  /** Forks, then init and start; never rejects (a failure is a crash, handled on exit). */
  private async runLaunch(): Promise<void> {
    const link = this.spawn();
    if (link === null) return;
    try {
      const timeoutMs = this.settings.startTimeoutMs;
      await this.expectOk(await this.request(link, { type: 'init', init: this.initMessage() }, 'kill', timeoutMs), 'init');
      if (this.link === link && this.state === 'starting') await this.expectOk(await this.request(link, { type: 'start' }, 'kill', timeoutMs), 'start');
    } catch (error) {
      if (this.link === link && this.state === 'starting' && !link.ended) {
        link.failure ??= errorText(error);
        signalGroup(link, 'SIGKILL');
      }
      await link.exited;
      return;
    }
    if (this.link !== link || this.state !== 'starting') return;
    this.state = 'running';
    this.runningSinceMs = Date.now();
    this.startedAt = new Date(this.runningSinceMs).toISOString();
    this.report('started', {});
    this.announceServices(link);
    if (this.peers !== null) this.post(link, { type: 'membership', peers: this.peers });
    this.armHealthProbe(link);
  }

  private expectOk(result: ResultMessage, step: string): void {
    if (!result.ok) throw new ComponentError('GALAXY_COMPONENT_FAILED', `${step} failed: ${result.error ?? 'no reason given'}`);
  }

  private initMessage() {
    return { name: this.name, kind: this.kind, nodeId: this.settings.nodeId, stateDir: this.stateDir(), config: this.config };
  }

  private stateDir(): string {
    return join(this.settings.stateRoot, this.name);
  }

  private async stopNow(): Promise<void> {
    switch (this.state) {
      case 'stopped':
        return;
      case 'backoff':
      case 'failed':
      case 'crashed':
        this.clearBackoff();
        this.state = 'stopped';
        this.report('stopped', {});
        return;
      case 'stopping':
        throw new Error(`component ${this.name}: stop found the transient state stopping`);
      case 'starting':
      case 'running':
        break;
    }
    const link = this.link;
    if (link === null) {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.clearHealthProbe();
    this.withdrawServices(link);
    await this.endProcess(link);
    this.state = 'stopped';
    this.startedAt = null;
    this.runningSinceMs = null;
    this.report('stopped', { exitCode: link.exitCode, signal: link.signal });
  }

  /** Asks the process to stop, then closes its channel, then signals it, each step bounded. */
  private async endProcess(link: Link): Promise<void> {
    const { stopTimeoutMs } = this.settings;
    try {
      const result = await this.request(link, { type: 'stop' }, 'wait');
      if (!result.ok) this.settings.logger.warn({ component: this.name, error: result.error }, 'component stop handler failed');
    } catch (error) {
      this.settings.logger.warn({ component: this.name, error: errorText(error) }, 'component did not confirm its stop');
    }
    // The runner exits when its channel closes.
    if (link.child.connected) link.child.disconnect();
    if (await within(link.exited, stopTimeoutMs)) return;
    this.settings.logger.warn({ component: this.name, pid: link.child.pid }, 'component did not exit after its channel closed; sending SIGTERM');
    signalGroup(link, 'SIGTERM');
    if (await within(link.exited, stopTimeoutMs)) return;
    this.settings.logger.warn({ component: this.name, pid: link.child.pid }, 'component ignored SIGTERM; sending SIGKILL');
    signalGroup(link, 'SIGKILL');
    if (await within(link.exited, stopTimeoutMs)) return;
    // Only a process stuck in the kernel survives SIGKILL; forget it rather than hang the agent.
    this.settings.logger.error({ component: this.name, pid: link.child.pid }, 'component process did not exit even after SIGKILL');
    this.ended(link, null, 'SIGKILL');
  }

  // ---- the process -----------------------------------------------------------------

  private spawn(): Link | null {
    let child: ChildProcess;
    try {
      mkdirSync(this.stateDir(), { recursive: true, mode: 0o700 });
      child = fork(this.settings.runnerPath, [this.spec.module], {
        cwd: this.stateDir(),
        env: Object.fromEntries(Object.entries(process.env).filter(([key]) => !kHiddenEnvironment(key))),
        execArgv: [`--max-old-space-size=${this.spec.memoryMb}`],
        serialization: 'advanced',
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        // A session and process group of its own: see signalGroup. It also keeps a
        // terminal's Ctrl+C (sent to the foreground group) away from components, whose
        // stop the agent orders itself.
        detached: true,
      });
    } catch (error) {
      this.lastError = `could not start its process: ${errorText(error)}`;
      this.crashed(null, null);
      return null;
    }
    let resolveExited!: () => void;
    const exited = new Promise<void>((resolve) => (resolveExited = resolve));
    const link: Link = { child, exited, resolveExited, backlog: 0, ended: false, exitCode: null, signal: null, fatal: null, failure: null, rpc: new ComponentRpcRelay(this.name, (message) => this.post(link, message), this.count.rpc) };
    this.link = link;
    child.on('message', (message: unknown) => this.onMessage(link, message));
    child.on('error', (error) => this.onChildError(link, error));
    child.on('disconnect', () => this.onDisconnect(link));
    child.once('exit', (code, signal) => {
      // Whatever the component left running in its group goes with it; such a helper may
      // also hold the IPC socket and the pipes open, which would delay 'close'.
      killLeftovers(child);
      // The channel delivers everything before it reports its end ('disconnect'); wait for
      // that, so a fatal report sent just before the exit is read first. ('close' is no
      // use here: Node does not emit it after a disconnect the parent started.)
      if (!child.connected) {
        this.ended(link, code, signal);
        return;
      }
      const timer = setTimeout(() => this.ended(link, code, signal), kCloseGraceMs);
      child.once('disconnect', () => {
        clearTimeout(timer);
        this.ended(link, code, signal);
      });
    });
    splitLines(child.stdout!, this.settings.outputLineLengthMax, (line, cut) => this.onOutput(link, 'stdout', line, cut));
    splitLines(child.stderr!, this.settings.outputLineLengthMax, (line, cut) => this.onOutput(link, 'stderr', line, cut));
    return link;
  }

  /** The process is gone (or given up on): settle everything that waited on it, then decide. */
  private ended(link: Link, code: number | null, signal: string | null): void {
    if (link.ended) return;
    link.ended = true;
    link.exitCode = code;
    link.signal = signal;
    link.resolveExited();
    link.rpc.end(describeExit(code, signal));
    this.withdrawServices(link);
    if (this.link !== link) return;
    this.link = null;
    this.clearHealthProbe();
    const error = new ComponentError('GALAXY_COMPONENT_EXITED', `${this.name} ${describeExit(code, signal)}`);
    for (const [seq, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(seq);
      pending.reject(error);
    }
    if (this.state === 'stopping') return;
    this.lastError = link.fatal ?? link.failure ?? describeExit(code, signal);
    this.crashed(code, signal);
  }

  private crashed(code: number | null, signal: string | null): void {
    const nowMs = Date.now();
    const runningForMs = this.runningSinceMs === null ? null : nowMs - this.runningSinceMs;
    this.count.crashes++;
    this.state = 'crashed';
    this.runningSinceMs = null;
    this.startedAt = null;
    this.report('crashed', { exitCode: code, signal, error: this.lastError });
    const decision = afterCrash(this.history, nowMs, runningForMs, this.settings.backoff, this.settings.giveUp);
    this.history = decision.history;
    if (decision.giveUp) {
      this.state = 'failed';
      const { crashesMax, windowMs } = this.settings.giveUp;
      this.report('failed', { error: `gave up after ${crashesMax} crashes within ${windowMs} ms (restart it to try again); last: ${this.lastError}` });
      return;
    }
    this.state = 'backoff';
    this.report('restarting', { delayMs: decision.delayMs, restarts: this.restarts + 1 });
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      if (this.state !== 'backoff') return;
      this.restarts++;
      void this.launch();
    }, decision.delayMs);
  }

  private onChildError(link: Link, error: Error): void {
    this.settings.logger.warn({ component: this.name, pid: link.child.pid ?? null, error: error.message }, 'component process error');
    // A process that never spawned emits no 'exit' of its own.
    if (link.child.pid === undefined && !link.ended) {
      link.failure ??= `could not start its process: ${error.message}`;
      this.ended(link, null, null);
    }
  }

  /**
   * The channel closed. An exiting process closes it just before its exit is seen; one
   * still there after kCloseGraceMs closed it itself and can no longer be controlled, so
   * it is ended.
   */
  private onDisconnect(link: Link): void {
    setTimeout(() => {
      if (this.link !== link || link.ended || this.state === 'stopping' || link.child.exitCode !== null || link.child.signalCode !== null) return;
      link.failure ??= 'closed its IPC channel';
      signalGroup(link, 'SIGKILL');
    }, kCloseGraceMs);
  }

  private onOutput(link: Link, stream: 'stdout' | 'stderr', line: string, cut: boolean): void {
    if (!this.outputRate.admit(Date.now())) {
      this.count.outputLinesDropped++;
      return;
    }
    const fields = { component: this.name, pid: link.child.pid ?? null, stream, ...(cut ? { cut } : {}) };
    if (stream === 'stdout') this.settings.logger.info(fields, line);
    else this.settings.logger.warn(fields, line);
  }

  // ---- messages ------------------------------------------------------------------

  private request(link: Link, message: ControlRequest, onTimeout: 'kill' | 'wait', timeoutMs = this.settings.controlTimeoutMs): Promise<ResultMessage> {
    const seq = this.nextSeq++;
    return new Promise<ResultMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        const text = `${this.name} did not answer "${message.type}" within ${timeoutMs} ms`;
        if (onTimeout === 'kill' && this.link === link && !link.ended) {
          this.count.unresponsive++;
          link.failure ??= `unresponsive: ${text}`;
          this.settings.logger.warn({ component: this.name, pid: link.child.pid ?? null }, `${text}; killing it`);
          signalGroup(link, 'SIGKILL');
        }
        reject(new ComponentError('GALAXY_COMPONENT_UNRESPONSIVE', text));
      }, timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      this.post(link, { ...message, seq } as HostToComponent, (error) => {
        const pending = this.pending.get(seq);
        if (pending === undefined) return;
        this.pending.delete(seq);
        clearTimeout(pending.timer);
        reject(new ComponentError('GALAXY_COMPONENT_NOT_RUNNING', `${this.name}: ${error.message}`));
      });
    });
  }

  /** Writes to the child's channel; false if it could not (the exit handling follows). */
  private post(link: Link, message: HostToComponent, failed?: (error: Error) => void): boolean {
    if (link.ended || !link.child.connected) {
      failed?.(new Error('its IPC channel is closed'));
      return false;
    }
    link.backlog++;
    try {
      link.child.send(message, undefined, undefined, (error) => {
        link.backlog--;
        if (error !== null) failed?.(error);
      });
      return true;
    } catch (error) {
      // Serialization refused the message (a value structured clone cannot copy).
      link.backlog--;
      failed?.(error as Error);
      return false;
    }
  }

  private onMessage(link: Link, raw: unknown): void {
    if (this.link !== link) return;
    const check = checkComponentMessage(raw);
    if (!check.ok) {
      this.drop(check.reason, check.detail);
      return;
    }
    const message = check.message;
    // Answers and fatal reports are bounded by the host's own requests and by one per process.
    if (message.type !== 'result' && message.type !== 'fatal' && message.type !== 'rpc-answer' && !this.messageRate.admit(Date.now())) {
      this.drop('rateLimited', `more than ${this.settings.messagesPerSecondMax} messages in a second`);
      // A call dropped in silence would keep its caller waiting until its timeout.
      if (message.type === 'rpc-call') link.rpc.refuse(message.callId, 'GALAXY_RPC_BUSY', `${this.name} sent more than ${this.settings.messagesPerSecondMax} messages in a second`);
      return;
    }
    switch (message.type) {
      case 'result': {
        const pending = this.pending.get(message.seq);
        if (pending === undefined) {
          this.drop('unsolicited', `a result for seq ${message.seq}, which is not outstanding`);
          return;
        }
        this.pending.delete(message.seq);
        clearTimeout(pending.timer);
        pending.resolve(message);
        return;
      }
      case 'values':
        this.values = message.values;
        this.deliver(() => this.sink.values(this.name, message.values));
        return;
      case 'event':
        this.deliver(() => this.sink.farmEvent(this.name, { eventType: message.eventType, severity: message.severity, body: message.body }));
        return;
      case 'peer-send':
        this.deliver(() => this.sink.peerSend(this.kind, message.payload));
        return;
      case 'log':
        this.settings.logger[message.level]({ component: this.name, pid: link.child.pid ?? null }, message.message);
        return;
      case 'fatal':
        link.fatal = message.error;
        this.settings.logger.error({ component: this.name, pid: link.child.pid ?? null, stack: message.stack ?? null }, `component ${message.error}`);
        return;
      case 'rpc-serve':
        if (link.rpc.services !== null) {
          this.drop('unsolicited', 'a second rpc-serve from one process');
          return;
        }
        link.rpc.services = message.services;
        this.announceServices(link);
        return;
      case 'rpc-call': {
        const taken = link.rpc.call(message, (call, reply) => {
          if (!this.deliver(() => this.sink.rpcCall(this.name, call, reply))) reply({ ok: false, code: 'GALAXY_RPC_UNAVAILABLE', message: 'the host failed to pass the call on' });
        });
        if (!taken) this.drop('unsolicited', `an rpc-call with callId ${message.callId}, which is outstanding already`);
        return;
      }
      case 'rpc-answer':
        if (!link.rpc.answer(message)) this.drop('unsolicited', `an rpc-answer for request ${message.requestId}, which is not outstanding (late or never asked)`);
        return;
    }
  }

  /** Offers the process's services to the farm once it runs and has declared them. */
  private announceServices(link: Link): void {
    const services = link.rpc.services;
    if (this.link !== link || this.state !== 'running' || link.rpc.announced || services === null || services.length === 0) return;
    link.rpc.announced = true;
    this.deliver(() => this.sink.services(this.name, services));
  }

  /** Withdraws them when it stops or ends, before it can no longer answer. */
  private withdrawServices(link: Link): void {
    if (!link.rpc.announced) return;
    link.rpc.announced = false;
    this.deliver(() => this.sink.services(this.name, []));
  }

  private drop(reason: ComponentDropReason, detail: string): void {
    const dropped = ++this.count.dropped[reason];
    // The first drop and then every power of two: visible, but never a log line per message.
    if ((dropped & (dropped - 1)) === 0) this.settings.logger.warn({ component: this.name, reason, dropped, detail }, 'message from component dropped');
  }

  /**
   * Calls the host's listeners; their errors are the agent's bugs, logged and counted,
   * never thrown into IPC handling. Returns whether the call went through without one.
   */
  private deliver(call: () => void): boolean {
    try {
      call();
      return true;
    } catch (error) {
      this.count.listenerErrors++;
      this.settings.logger.error({ component: this.name, error: errorText(error) }, 'a listener of component messages threw');
      return false;
    }
  }

  private report(type: ComponentEventType, detail: Partial<ComponentLifecycleEvent['detail']>): void {
    const event: ComponentLifecycleEvent = {
      name: this.name,
      kind: this.kind,
      type,
      at: new Date().toISOString(),
      detail: { exitCode: null, signal: null, error: null, restarts: this.restarts, delayMs: null, ...detail },
    };
    this.deliver(() => this.sink.lifecycle(event));
  }

  // ---- timers --------------------------------------------------------------------

  /** Asks a running component for its status every healthIntervalMs; no answer in time kills it. */
  private armHealthProbe(link: Link): void {
    if (this.settings.healthIntervalMs === 0) return;
    this.healthTimer = setTimeout(() => {
      this.healthTimer = null;
      if (this.link !== link || this.state !== 'running') return;
      this.request(link, { type: 'status' }, 'kill').then(
        () => {
          if (this.link === link && this.state === 'running') this.armHealthProbe(link);
        },
        // A timeout killed it and its exit restarts it; an exit is handled on its own.
        () => undefined,
      );
    }, this.settings.healthIntervalMs);
  }

  private clearHealthProbe(): void {
    if (this.healthTimer !== null) clearTimeout(this.healthTimer);
    this.healthTimer = null;
  }

  private clearBackoff(): void {
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
  }
}
