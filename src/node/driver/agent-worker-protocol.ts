import type { TransportChoice } from '../transport/select-transport.js';
import type { MembershipConfig } from '../../core/membership/config.js';
import type { MembershipEvent } from '../../core/membership/membership-event.js';
import type { DgramTransportOptions } from '../transport/dgram-transport.js';
import type { StreamCountersSnapshot, StreamTransportOptions } from '../transport/stream-transport.js';
import type { TransportCountersSnapshot } from '../transport/transport-counters.js';
import type { NodeId } from '../../core/wire/message.js';
import type { FmidbOptions } from '../../core/fmidb/config.js';
import type { FmidbChange, FmidbWrite } from '../../core/fmidb/entry.js';
import type { JobsOpenOptions, NodeJobsCounters, NodeStackCounters, SnapshotOrigin, StackCommand, StackEvent } from '../../core/stack/node-stack.js';

/**
 * The messages between AgentHost (main thread) and workers/agent-worker.ts. Datagrams
 * and frames never cross: the worker owns the sockets. What crosses is small and rare:
 * membership events in one batch per tick, stats on request, stop. The FMIDB replica
 * runs in the worker's NodeStack; the main thread is its operator: it opens it (with
 * the snapshot it read), sends writes and departures in, reads its digest, counters and
 * export on request, and gets its read-view changes in one batch per tick.
 */

/** What the main thread hands the worker at start (workerData). */
export interface AgentWorkerData {
  readonly memory: WebAssembly.Memory;
  /** The compiled kernels, or null to run the TypeScript ones. */
  readonly module: WebAssembly.Module | null;
  /** The membership table, made by the main thread in the shared memory. */
  readonly tableBase: number;
  /**
   * First byte the worker may allocate from (its engine scratch). The main thread has
   * reserved everything from here to the end of the memory for the worker, so the two
   * bump allocators never hand out the same bytes.
   */
  readonly regionStart: number;
  readonly config: MembershipConfig;
  readonly bind: string;
  readonly seeds: readonly string[];
  /** Null: derive it from the bound address (nodeIdOf), stable across restarts. */
  readonly id: NodeId | null;
  readonly incarnation: number;
  readonly meta: Uint8Array;
  /** Seed of the engine's generator, logged so a run's random choices can be told apart. */
  readonly randomSeed: number;
  readonly tickIntervalMs: number;
  readonly datagram: DgramTransportOptions;
  readonly stream: StreamTransportOptions;
  readonly transport: TransportChoice;
  /** The farm keyring, primary first; empty with `secure` means the node waits for admission. */
  readonly keys: readonly string[];
  /**
   * Secure farm: nothing unsealed is ever parsed as farm traffic; admission datagrams
   * (admission-wire.ts) go to the main thread. False: an open lab farm without keys.
   */
  readonly secure: boolean;
  /** Start gossiping at once (false while the node waits for admission: its sockets answer admission only). */
  readonly gossip: boolean;
  /**
   * Extra networks (AgentOptions.networks): UDP and TCP bound at each host on the farm
   * port, carrying the messenger's envelopes only (membership and the FMIDB stay on bind).
   */
  readonly networks: readonly { readonly name: string; readonly host: string }[];
}

export type AgentWorkerRequest =
  | { readonly type: 'stop'; readonly flushMs: number }
  | { readonly type: 'stats'; readonly requestId: number }
  /** Replace the keyring (primary first); starts gossip when it had not started. */
  | { readonly type: 'keys'; readonly keys: readonly string[] }
  /** Stop taking part (revoked): no more sends, nothing handed to the engine. */
  | { readonly type: 'suspend' }
  /** A farm-wide user broadcast (sealed like all farm traffic). */
  | { readonly type: 'broadcast'; readonly payload: Uint8Array }
  /** An admission datagram, sent unsealed (the peer may hold no key yet). */
  | { readonly type: 'admission-send'; readonly to: string; readonly bytes: Uint8Array }
  | { readonly type: 'meta'; readonly meta: Uint8Array }
  /** The seed list changed while running (discovery): the stack's 'join' command, the whole new set. */
  | { readonly type: 'join'; readonly seeds: readonly string[] }
  /** Messenger envelopes (envelope.ts), sealed like all farm traffic; a batch per call. */
  | { readonly type: 'app-send'; readonly messages: readonly AppMessage[] }
  /** Opens the stack's FMIDB (once), loading the snapshot's origins first. */
  | { readonly type: 'fmidb-open'; readonly options: FmidbOptions; readonly randomSeed: number; readonly snapshot: readonly SnapshotOrigin[] }
  /** One batch of writes under one stamp; answered by an 'fmidb-written' report after the changes it made. */
  | { readonly type: 'fmidb-write'; readonly requestId: number; readonly writes: readonly FmidbWrite[] }
  /** The farm revoked this node id: the stack takes nothing it sends (the messenger's directory does the same above). */
  | { readonly type: 'revoke'; readonly id: string }
  /** Nodes (ids) gone though membership never showed them (restored from the snapshot, never back). */
  | { readonly type: 'fmidb-depart'; readonly ids: readonly string[] }
  /** The replica's digest and counters, and its origins when `exportOrigins` (the snapshot). */
  | { readonly type: 'fmidb-read'; readonly requestId: number; readonly exportOrigins: boolean }
  /**
   * Opens job coordination in the stack (once): the coordinator and runner cores, nodes
   * named by sender id, launches confirmed by the host (runner.confirmLaunches is forced on).
   */
  | { readonly type: 'jobs-open'; readonly options: JobsOpenOptions }
  /** One job command; answered by a 'jobs-done' report after the job events it made. */
  | { readonly type: 'jobs-command'; readonly requestId: number; readonly command: JobsCommand };

/** The stack commands of job coordination that cross from the main thread. */
export type JobsCommand = Extract<StackCommand, { readonly type: 'create-job' | 'add-job' | 'stop-job' | 'signal-job' | 'launched' | 'launch-failed' | 'exited' | 'host-restarted' }>;

/** The stack events of job coordination that cross to the main thread: the coordinator's process events, and what the host must run, terminate or signal. */
export type JobsStackEvent = Extract<StackEvent, { readonly layer: 'jobs' | 'run' | 'terminate' | 'signal' }>;

/** Job events held for the next report at most; more are dropped and counted (jobsEventsDropped). */
export const kJobsEventsMax = 65_536;

/**
 * Datagrams and frames whose plaintext starts with the messenger's envelope version
 * (kEnvelopeVersion, envelope.ts) belong to the messenger: the worker hands them to the
 * main thread in one batch per tick instead of to the engine. The membership wire
 * format's first byte is its version (1), so the two never collide.
 */
/** Application messages handed to the main thread per tick at most; the rest are dropped and counted. */
export const kAppInboxMax = 8192;

/** One application message: to (outbound) or from (inbound) a member's address; stream = over TCP. */
export interface AppMessage {
  readonly peer: string;
  readonly bytes: Uint8Array;
  readonly stream: boolean;
  /**
   * Outgoing: the extra network (AgentWorkerData.networks, by name) whose socket sends
   * it, so it leaves from this node's address on that network. Absent (or a network
   * this node has not): the farm socket. Incoming: the extra network whose socket
   * received it (absent: the farm socket), so a reply to `peer` (`tcp#n` names a
   * connection of that socket) goes back on the same connection.
   */
  readonly via?: string;
}

export type AgentWorkerReport =
  | { readonly type: 'ready'; readonly address: string; readonly id: string; readonly incarnation: number; readonly backend: string; readonly transport: string; readonly transportReason: string }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'events'; readonly events: readonly MembershipEvent[] }
  /** User broadcasts received this tick, each once. */
  | { readonly type: 'user'; readonly payloads: readonly Uint8Array[] }
  /** Application messages received since the last tick. */
  | { readonly type: 'app'; readonly messages: readonly AppMessage[] }
  /** Admission datagrams received (bounded per second by the worker). */
  | { readonly type: 'admission'; readonly from: string; readonly bytes: Uint8Array }
  | { readonly type: 'stats'; readonly requestId: number; readonly stats: AgentStats }
  /** The FMIDB's read-view changes since the last report (one batch per tick) and its counters then. */
  | { readonly type: 'fmidb'; readonly changes: readonly FmidbChange[]; readonly counters: FmidbCountersReport }
  /** The FMIDB opened: origins and entries loaded from the snapshot, and origins refused with why. */
  | { readonly type: 'fmidb-opened'; readonly origins: number; readonly entries: number; readonly refused: readonly { readonly origin: string; readonly reason: string }[] }
  /** The answer to 'fmidb-write': the write's stamp, or the FmidbError that refused it (nothing written). */
  | { readonly type: 'fmidb-written'; readonly requestId: number; readonly stamp: number; readonly error: { readonly code: string; readonly message: string } | null }
  | { readonly type: 'fmidb-read'; readonly requestId: number; readonly readout: FmidbReadout }
  /** Job coordination's events since the last report (one batch per tick), in the order the stack made them. */
  | { readonly type: 'jobs'; readonly events: readonly JobsStackEvent[] }
  /** The answer to 'jobs-command': null, or the DomainError that refused it (code, kind, message). */
  | { readonly type: 'jobs-done'; readonly requestId: number; readonly error: { readonly code: string; readonly kind: string; readonly message: string } | null }
  | { readonly type: 'stopped' };

/** The replica's counters (FmidbCounters) as numbers by name. */
export type FmidbCountersReport = Readonly<Record<string, number>>;

/** What 'fmidb-read' answers. */
export interface FmidbReadout {
  readonly digest: string;
  readonly originsHeld: number;
  readonly counters: FmidbCountersReport;
  /** The replica's origins for a snapshot; null unless asked. */
  readonly origins: SnapshotOrigin[] | null;
}

/** A snapshot of the engine's and the transports' counters. */
export interface AgentStats {
  readonly engine: Readonly<Record<string, number>>;
  readonly wireRejectedByCode: Readonly<Record<string, number>>;
  readonly datagram: TransportCountersSnapshot;
  readonly stream: StreamCountersSnapshot;
  readonly aliveCount: number;
  readonly incarnation: number;
  /** Lifeguard local health (0 = healthy). */
  readonly health: number;
  /** Largest event-loop lag the worker measured since the last stats call, ms. */
  readonly eventLoopLagMsMax: number;
  /** Sealing counters, when the farm keyring is on. */
  readonly keyring: Readonly<Record<string, number>> | null;
  /** Datagrams dropped because this node holds no keyring yet (waiting for admission, or suspended). */
  readonly unauthenticatedDropped: number;
  readonly admissionReceived: number;
  readonly admissionDropped: number;
  readonly suspended: boolean;
  readonly appReceived: number;
  readonly appDropped: number;
  readonly appSent: number;
  /** Seals made for appSent (a multicast's one plaintext is sealed once for all its peers; in an open farm, plaintexts counted the same way). */
  readonly appSealed: number;
  /** The worker's NodeStack: envelopes it dropped (forged sender, unknown channel, malformed, no route). */
  readonly stack: Readonly<NodeStackCounters>;
  /** The stack's job coordination counters (starts sent, probes failed, reports refused, ...), null until jobs are opened. */
  readonly jobs: NodeJobsCounters | null;
  /** Per extra network (AgentWorkerData.networks): its address, its transports' counters, and envelopes taken and dropped (not an envelope for the main thread). */
  readonly networks: readonly NetworkStats[];
}

export interface NetworkStats {
  readonly name: string;
  readonly address: string;
  readonly datagram: TransportCountersSnapshot;
  readonly stream: StreamCountersSnapshot;
  /** Messenger envelopes received on this network and handed up. */
  readonly appReceived: number;
  /** Opened messages that were no messenger envelope for the main thread (membership, FMIDB): dropped. */
  readonly refused: number;
  readonly appSent: number;
}
