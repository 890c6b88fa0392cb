import type { Prng } from '../core/util/prng.js';

/**
 * What the simulator gives one simulated node's process: its address, its own clock and
 * random generator, and its sockets. The process must take time and randomness only
 * from here, never from Date.now, setTimeout or Math.random, so a seed replays a run.
 */
export interface SimContext {
  /** The node's stable address, "10.a.b.c:7946"; it survives restarts of the process. */
  readonly address: string;
  /** The node's LOCAL clock in ms, a float: global time with this host's drift and offset applied. */
  nowMs(): number;
  /** This process's own generator, forked from the simulation seed. */
  readonly random: Prng;
  /**
   * Sends one datagram. Unreliable: it may be lost, duplicated, reordered or delayed.
   * The simulator copies `bytes`, so the caller may reuse its buffer at once.
   */
  sendDatagram(to: string, bytes: Uint8Array): void;
  /**
   * Sends one stream message (TCP-like): reliable and ordered per (from, to) pair while
   * a path exists both ways. When the destination host is down or unreachable the
   * sender later gets streamFailed(to) after the connect timeout; when the host is up
   * but its process is dead the failure comes after one round trip. The simulator
   * copies `bytes`.
   */
  sendFrame(to: string, bytes: Uint8Array): void;
  /** Tells the simulator what the process concluded, for invariant checking. */
  report(event: SimMembershipEvent): void;
  /**
   * The process now holds idle links (the agent's watch links: TCP connections on which
   * nothing is sent) to exactly these addresses. When one's process dies with its host
   * up, the holder gets linkLost; see NetworkSimulator's model.
   */
  holdLinks(targets: readonly string[]): void;
}

export type SimMemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** A conclusion a process reached about a member (`subject` is its address). */
export interface SimMembershipEvent {
  kind: SimMemberStatus;
  subject: string;
}

/**
 * A simulated node's process. The simulator calls these methods one at a time, never
 * re-entrantly, and never while the process is paused or after it died. Bytes handed
 * to receiveDatagram and receiveFrame belong to the process: it may keep them.
 */
export interface SimProcess {
  /** Called once, at once, when the node is added or restarted. */
  start(context: SimContext): void;
  /** Called every tickMs of the node's LOCAL time while it runs. */
  tick(): void;
  receiveDatagram(from: string, bytes: Uint8Array): void;
  receiveFrame(from: string, bytes: Uint8Array): void;
  /**
   * ICMP-style evidence: a datagram this process sent to `to` reached a live host whose
   * process is dead. Only sent when icmp is enabled for that host, and it travels back
   * like a datagram (one latency, may be lost or partitioned away).
   */
  unreachable(to: string): void;
  /** A frame this process sent to `to` was not delivered (see SimContext.sendFrame). */
  streamFailed(to: string): void;
  /** Optional: a link held to `to` (SimContext.holdLinks) closed or a reconnect was refused. */
  linkLost?(to: string): void;
  /** Graceful stop: the process may still send here (a leave message), then it is gone. */
  stop(): void;
  /** The process's current membership view, for invariant checks. */
  membersView(): ReadonlyMap<string, SimMemberStatus>;
  /**
   * Optional: the LOCAL time before which a tick would do nothing (its earliest timer);
   * -Infinity asks for the next tick, Infinity for none until something arrives. Read
   * after every call into the process, and used only with options.skipIdleTicks.
   */
  nextTickAtMs?(): number;
}

/** Makes the process for a node; incarnationHint counts restarts of that host (0 at first start). */
export type SimProcessFactory = (address: string, incarnationHint: number) => SimProcess;
