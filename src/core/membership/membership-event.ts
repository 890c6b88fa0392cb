/**
 * What the membership engine tells the layers above. Events are queued by the engine
 * and drained in batches by its driver (the agent, the simulator), never delivered
 * one call per packet.
 */
export type MembershipEventType =
  /** A member was seen alive for the first time, or came back after being dead. */
  | 'join'
  /** A member's metadata or address changed. */
  | 'update'
  /** A member is suspected of having failed; it has until its suspicion timeout to refute. */
  | 'suspect'
  /** A suspected member refuted the suspicion. */
  | 'alive'
  /** A member was declared dead. */
  | 'dead'
  /** A member left gracefully. */
  | 'leave'
  /** A dead or left member's tombstone was reaped. */
  | 'reap';

export interface MembershipEvent {
  readonly type: MembershipEventType;
  /** The member's id, 16 hex digits. */
  readonly id: string;
  /** Its address, "ip:port" or "[v6]:port". */
  readonly address: string;
  readonly incarnation: number;
  /** Local time of the event, ms. */
  readonly atMs: number;
  /** The member's metadata as known when the event was raised (absent when it has none). */
  readonly meta?: Uint8Array;
}
