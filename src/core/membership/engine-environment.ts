import type { Prng } from '../util/prng.js';

/**
 * The engine's whole view of the outside world: a clock, a seeded generator and two
 * ways to send. It does no I/O of its own (sans-I/O, like etcd's raft): the agent
 * drives it over UDP and TCP, the simulator over a simulated network.
 *
 * The bytes handed to sendDatagram and sendFrame are only valid during the call (they
 * may be a view into shared memory that is reused): copy them to keep them.
 */
export interface EngineEnvironment {
  /** Local monotonic time, ms. */
  nowMs(): number;
  readonly random: Prng;
  sendDatagram(to: string, bytes: Uint8Array): void;
  /** A reliable, ordered stream message (push-pull state); failures come back as streamFailed. */
  sendFrame(to: string, bytes: Uint8Array): void;
}
