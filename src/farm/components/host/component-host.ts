import { EventEmitter } from 'node:events';
import type { ComponentStatus } from '../component-status.js';
import { ComponentError } from './component-error.js';
import type { ComponentCounters, ComponentHostEvents, ComponentSink } from './component-events.js';
import { componentHostSettings, type ComponentHostOptions, type ComponentHostSettings } from './component-host-options.js';
import { kMembershipPeersMax, kRpcTimeoutMsDefault, peerPayloadProblem } from './component-limits.js';
import type { ComponentPeer } from './component-protocol.js';
import { checkComponentSpec, type ComponentSpec } from './component-spec.js';
import { ComponentSupervisor } from './component-supervisor.js';

export type { ComponentCounters, ComponentFarmEvent, ComponentHostEvents, ComponentLifecycleEvent, ComponentRpcCall, ComponentRpcOutcome, ComponentRpcReply } from './component-events.js';
export type { ComponentHostOptions, ComponentHostSettings, ComponentLogger } from './component-host-options.js';
export type { ComponentSpec } from './component-spec.js';

/**
 * The farm service's side of the service control interface (Galaxy paper, section 6):
 * it runs this node's farm service components, tells them where their peers are, and
 * carries their values, events and peer messages to the farm service.
 *
 * Each component runs in a child process of its own (a fork of
 * dist/workers/component-runner.js), not in a worker thread. A worker shares the agent's
 * process: a component that calls process.exit, crashes in native code, exhausts the
 * heap or blocks its event loop in a tight loop would take the agent down with it or
 * could not be stopped. A process can always be killed, the OS reclaims everything it
 * held (memory, descriptors, sockets, timers), and its heap is bounded by V8's
 * --max-old-space-size (per component, `memoryMb`). The price is tens of milliseconds and
 * some megabytes per component, which a handful of long-lived services can afford. The
 * IPC channel uses the 'advanced' (structured clone) serialization so Uint8Array payloads
 * pass as bytes.
 *
 * Each component's process leads a process group of its own, and the group is killed
 * when the component exits or is stopped, so nothing a component started outlives it.
 * The runner exits as soon as its IPC channel closes, which is also what happens when the
 * agent dies, even by SIGKILL: components do not run on as orphans. (One limit: a
 * component whose event loop is blocked at that moment cannot see the channel close; it
 * stays until killed. Linux's PR_SET_PDEATHSIG would cover that, but Node does not
 * expose it.)
 *
 * The host never throws into the agent on a component's account: crashes, hangs, exits
 * and bad messages become lifecycle events ('component'), states and counters. What
 * throws (or rejects) is a caller's mistake or an answer the caller asked for, always a
 * ComponentError with a stable code: an unknown name, a bad spec, a configuration the
 * component refused.
 */
export class ComponentHost extends EventEmitter<ComponentHostEvents> {
  readonly settings: ComponentHostSettings;
  private readonly supervisors = new Map<string, ComponentSupervisor>();
  private readonly memberships = new Map<string, readonly ComponentPeer[]>();
  private closing: Promise<void> | null = null;
  private peerUndeliverable = 0;
  private membershipRefused = 0;
  private readonly sink: ComponentSink;

  constructor(options: ComponentHostOptions) {
    super();
    this.settings = componentHostSettings(options);
    this.sink = {
      lifecycle: (event) => this.emit('component', event),
      values: (name, values) => this.emit('values', name, values),
      farmEvent: (name, event) => this.emit('event', name, event),
      peerSend: (kind, payload) => this.emit('peer-send', kind, payload),
      services: (name, services) => this.emit('services', name, services),
      rpcCall: (name, call, reply) => {
        if (this.listenerCount('rpc-call') === 0) reply({ ok: false, code: 'GALAXY_RPC_UNAVAILABLE', message: 'no farm is connected to this component host' });
        else this.emit('rpc-call', name, call, reply);
      },
    };
  }

  /** Adds a component (stopped); throws GALAXY_COMPONENT_BAD_SPEC, _EXISTS, _TOO_MANY or _CLOSED. */
  add(spec: ComponentSpec): ComponentStatus {
    if (this.closing !== null) throw new ComponentError('GALAXY_COMPONENT_CLOSED', 'the component host is closed');
    const checked = checkComponentSpec(spec, this.settings.memoryMbDefault);
    if (this.supervisors.has(checked.name)) throw new ComponentError('GALAXY_COMPONENT_EXISTS', `a component named "${checked.name}" exists already`);
    if (this.supervisors.size >= this.settings.componentsMax) throw new ComponentError('GALAXY_COMPONENT_TOO_MANY', `the host holds ${this.settings.componentsMax} components already`);
    const supervisor = new ComponentSupervisor(checked, this.settings, this.sink);
    this.supervisors.set(checked.name, supervisor);
    const peers = this.memberships.get(checked.kind);
    if (peers !== undefined) supervisor.membership(peers);
    return supervisor.status();
  }

  /** Stops a component and forgets it. */
  async remove(name: string): Promise<void> {
    const supervisor = this.supervisor(name);
    await supervisor.stop();
    this.supervisors.delete(name);
  }

  /**
   * Starts a component. Resolves with its status once it runs, or once its first attempt
   * failed (state 'backoff': the host keeps retrying; lastError says why).
   */
  async start(name: string): Promise<ComponentStatus> {
    this.mustBeOpen();
    const supervisor = this.supervisor(name);
    await supervisor.start();
    return supervisor.status();
  }

  /** Stops a component gracefully (stop message, then IPC close, SIGTERM, SIGKILL after stopTimeoutMs each). */
  async stop(name: string): Promise<ComponentStatus> {
    const supervisor = this.supervisor(name);
    await supervisor.stop();
    return supervisor.status();
  }

  /** Stops and starts a component; takes it out of 'failed' with a fresh crash history. */
  async restart(name: string): Promise<ComponentStatus> {
    this.mustBeOpen();
    const supervisor = this.supervisor(name);
    await supervisor.restart();
    return supervisor.status();
  }

  /**
   * Gives a component a new configuration: the live component may refuse it
   * (GALAXY_COMPONENT_CONFIG_REJECTED with its reason); once accepted it is kept for
   * every later start. A component not running keeps it for its next start.
   */
  async configure(name: string, config: Readonly<Record<string, unknown>>): Promise<ComponentStatus> {
    const supervisor = this.supervisor(name);
    await supervisor.configure(config);
    return supervisor.status();
  }

  /** The running component's own status record (its status handler). */
  async query(name: string): Promise<Readonly<Record<string, unknown>>> {
    return this.supervisor(name).query();
  }

  /**
   * Delivers a farm RPC request to a running component's service and resolves with the
   * answer's body. Rejects with ComponentError GALAXY_COMPONENT_UNKNOWN for a name never
   * added, else with ComponentRpcError: GALAXY_RPC_NOT_RUNNING (not running, or it exited
   * while handling), GALAXY_RPC_UNKNOWN_SERVICE, GALAXY_RPC_TIMEOUT, GALAXY_RPC_BUSY,
   * GALAXY_RPC_TOO_LARGE, GALAXY_RPC_BAD_REQUEST, or the handler's own code.
   */
  async request(name: string, service: string, fromNode: string, body: unknown, timeoutMs: number = kRpcTimeoutMsDefault): Promise<unknown> {
    return this.supervisor(name).serve(service, fromNode, body, timeoutMs);
  }

  status(): ComponentStatus[] {
    return [...this.supervisors.values()].map((s) => s.status());
  }

  counters(): ComponentCounters[] {
    return [...this.supervisors.values()].map((s) => s.counters());
  }

  /** Host-wide counts: peer messages for a kind no running component has, membership lists refused. */
  hostCounters(): { readonly peerUndeliverable: number; readonly membershipRefused: number } {
    return { peerUndeliverable: this.peerUndeliverable, membershipRefused: this.membershipRefused };
  }

  /** The values a component posted last, or null. */
  lastValues(name: string): Readonly<Record<string, number | string>> | null {
    return this.supervisor(name).lastValues();
  }

  /**
   * Where the components of `kind` are active on other nodes (the farm service derives it
   * from the members' tags). Kept, and given to every component of that kind when it
   * starts. A list longer than kMembershipPeersMax is refused (logged and counted).
   */
  membership(kind: string, peers: readonly ComponentPeer[]): void {
    if (!Array.isArray(peers) || peers.length > kMembershipPeersMax) {
      this.membershipRefused++;
      this.settings.logger.error({ kind, peers: Array.isArray(peers) ? peers.length : null, max: kMembershipPeersMax }, 'component membership refused');
      return;
    }
    const copy = Object.freeze(peers.map((p) => Object.freeze({ id: p.id, address: p.address, status: p.status })));
    this.memberships.set(kind, copy);
    for (const supervisor of this.supervisors.values()) if (supervisor.kind === kind) supervisor.membership(copy);
  }

  /**
   * A message from a peer of `kind` on another node, for every running component of that
   * kind. Returns how many took it; messages larger than kPeerPayloadBytesMax, or for a
   * kind nobody runs, are dropped and counted.
   */
  deliverPeer(kind: string, fromNodeId: string, payload: Uint8Array): number {
    let delivered = 0;
    if (peerPayloadProblem(payload) === null) {
      for (const supervisor of this.supervisors.values()) if (supervisor.kind === kind && supervisor.deliverPeer(fromNodeId, payload)) delivered++;
    }
    if (delivered === 0) this.peerUndeliverable++;
    return delivered;
  }

  /** Stops every component; later calls but stop, status and counters are refused. */
  close(): Promise<void> {
    this.closing ??= Promise.all([...this.supervisors.values()].map((s) => s.stop())).then(() => undefined);
    return this.closing;
  }

  private supervisor(name: string): ComponentSupervisor {
    const supervisor = this.supervisors.get(name);
    if (supervisor === undefined) throw new ComponentError('GALAXY_COMPONENT_UNKNOWN', `no component named "${name}"`);
    return supervisor;
  }

  private mustBeOpen(): void {
    if (this.closing !== null) throw new ComponentError('GALAXY_COMPONENT_CLOSED', 'the component host is closed');
  }
}
