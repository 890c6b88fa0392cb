import { newChannelCounters, type ChannelCounters } from './channel-counters.js';
import type { ChannelSettings } from './channel-options.js';
import { TokenBucket } from './token-bucket.js';

/** A message held by the receiver until its order allows delivery. */
export interface HeldMessage {
  rank: number;
  seq: number;
  payload: Uint8Array;
  clock: readonly number[];
}

/** A message being put back together from its fragments. */
export interface PartialMessage {
  rank: number;
  seq: number;
  buffer: Uint8Array;
  clock: readonly number[];
  have: boolean[];
  missing: number;
}

/** An entry of the sequencer's order, with the number of the order message that carried it. */
export interface OrderSlot {
  rank: number;
  seq: number;
  orderIndex: number;
}

export interface QueuedSend {
  sendId: number;
  payload: Uint8Array;
}

/** The key of (sender rank, seq) in the maps of one view. */
export const messageKey = (rank: number, seq: number): number => rank * 4294967296 + seq;

/**
 * One channel's state at one member: its settings and counters, the send queue and
 * token bucket (which outlive views), and everything kept per view (sequence numbers,
 * reassembly, ordering, credit and stability), reset when a view is installed. The
 * ChannelLayer owns the logic; this holds the data and its bounds.
 */
export class ChannelState {
  readonly name: string;
  readonly id: number;
  settings: ChannelSettings;
  readonly counters: ChannelCounters = newChannelCounters();
  readonly bucket: TokenBucket;
  /** Opened by this member's application (so it announces the channel). */
  openedHere = false;
  /** Announced by this member in the current view. */
  announced = false;
  readonly sendQueue: QueuedSend[] = [];

  // ---- Per view -----------------------------------------------------------------------
  members = 0;
  sendSeq = 0;
  /** The sequencer's order messages sent in this view. */
  orderSeq = 0;
  /** Own reliable messages sent but not yet delivered here, by seq. */
  awaitingSelf = new Map<number, QueuedSend>();
  partials = new Map<number, PartialMessage>();
  /** Unreliable: by rank, the highest seq delivered (FIFO) and the seqs seen (duplicates). */
  lastSeq: number[] = [];
  seen: Set<number>[] = [];
  /** Causal: by rank, messages delivered; messages waiting for their causal past. */
  deliveredCount: number[] = [];
  causalPending: HeldMessage[] = [];
  /** Total and safe: data held until ordered; the order as received; the sequencer's next batch. */
  held = new Map<number, HeldMessage>();
  order: OrderSlot[] = [];
  orderHead = 0;
  orderBatch: { senderRank: number; seq: number }[] = [];
  /** By rank: data messages received in this view; order messages received from the sequencer. */
  dataReceived: number[] = [];
  orderReceived = 0;
  /** Stability: by member rank, its last feedback's received vector and order count. */
  ackReceived: number[][] = [];
  ackOrder: number[] = [];
  /** Credit: by member rank, how many of this member's messages it has consumed. */
  consumedBy: number[] = [];
  /** By sender rank, how many of its messages this member's application consumed. */
  myConsumed: number[] = [];
  /** Ranks of delivered, unconsumed reliable messages, in delivery order (a queue from unconsumedHead). */
  unconsumed: number[] = [];
  unconsumedHead = 0;
  /**
   * Reliable deliveries of earlier views the application has not consumed yet. Until they
   * are, this member gives no credit in the new view (it withholds its first feedback),
   * so a reader stalled across view changes still holds at most one window per sender.
   */
  carried = 0;
  /** By member rank: whether its first feedback of this view has come (no credit before it). */
  creditKnown: boolean[] = [];
  feedbackDirty = false;
  /**
   * Safe order: this member received data or an order message since its last feedback.
   * Every member's delivery of it waits for this news (stability), so it goes at the end
   * of the step, not after feedbackIntervalMs: waiting for the host's next tick cost a
   * safe message up to a tick (10 ms in the agent) per round (issue 18: safe p99).
   */
  stabilityDirty = false;
  lastFeedbackMs = -Infinity;
  consumedSinceFeedback = 0;
  /**
   * By member rank: since when it has kept the window closed (NaN: it has not), how long
   * it kept it closed before that during the current backlog (reset when the send queue
   * empties), and whether it was reported.
   */
  blockedSinceMs: number[] = [];
  blockedTotalMs: number[] = [];
  reported: boolean[] = [];
  rateBlocked = false;

  constructor(name: string, id: number, settings: ChannelSettings, nowMs: number) {
    this.name = name;
    this.id = id;
    this.settings = settings;
    this.bucket = new TokenBucket(settings.senderRateMessagesPerSecond, settings.burstMessages, nowMs);
  }

  get reliable(): boolean {
    return this.settings.reliability === 'reliable';
  }

  get ordered(): boolean {
    return this.settings.ordering === 'total' || this.settings.ordering === 'safe';
  }

  /** The sender's effective rate in a view of `members`: its share of the channel's rate, capped by its own. */
  effectiveRate(members: number): number {
    return Math.min(this.settings.rateMessagesPerSecond / Math.max(1, members), this.settings.senderRateMessagesPerSecond);
  }

  /** Forgets the previous view's per-view state; returns own messages that never came back, in seq order, to send again. */
  resetForView(members: number, nowMs: number): QueuedSend[] {
    const resend = [...this.awaitingSelf.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    const zeros = (): number[] => new Array<number>(members).fill(0);
    this.members = members;
    this.sendSeq = 0;
    this.orderSeq = 0;
    this.awaitingSelf = new Map();
    this.partials = new Map();
    this.lastSeq = zeros();
    this.seen = Array.from({ length: members }, () => new Set<number>());
    this.deliveredCount = zeros();
    this.causalPending = [];
    this.held = new Map();
    this.order = [];
    this.orderHead = 0;
    this.orderBatch = [];
    this.dataReceived = zeros();
    this.orderReceived = 0;
    this.ackReceived = Array.from({ length: members }, zeros);
    this.ackOrder = zeros();
    this.consumedBy = zeros();
    this.myConsumed = zeros();
    this.carried += this.unconsumed.length - this.unconsumedHead;
    this.unconsumed = [];
    this.unconsumedHead = 0;
    this.creditKnown = new Array<boolean>(members).fill(false);
    // The first feedback of a view grants the first credit: it goes out as soon as it may.
    this.feedbackDirty = this.reliable;
    this.stabilityDirty = false;
    this.lastFeedbackMs = -Infinity;
    this.consumedSinceFeedback = 0;
    this.blockedSinceMs = new Array<number>(members).fill(NaN);
    this.blockedTotalMs = zeros();
    this.reported = new Array<boolean>(members).fill(false);
    this.announced = false;
    this.rateBlocked = false;
    this.bucket.set(this.effectiveRate(members), this.settings.burstMessages, nowMs);
    return resend;
  }
}
