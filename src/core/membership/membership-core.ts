import { OutputQueue, type SansIoCore } from '../contract.js';
import type { Prng } from '../util/prng.js';
import { MembershipEngine, type EngineEnvironment, type EngineOptions } from './membership-engine.js';
import type { MembershipEvent } from './membership-event.js';

/** What a membership core takes: messages received (with their sender's address), transport evidence, commands. */
export type MembershipInput =
  | { readonly type: 'datagram'; readonly from: string; readonly bytes: Uint8Array }
  | { readonly type: 'frame'; readonly from: string; readonly bytes: Uint8Array }
  /** ICMP-style evidence: a datagram to `to` reached a host whose process is dead. */
  | { readonly type: 'unreachable'; readonly to: string }
  | { readonly type: 'stream-failed'; readonly to: string }
  /** How late the driver's last tick came (its event-loop lag), for Lifeguard's health. */
  | { readonly type: 'lag'; readonly lagMs: number }
  | { readonly type: 'start' }
  | { readonly type: 'leave' }
  | { readonly type: 'meta'; readonly meta: Uint8Array }
  /** A new seed list (the whole set): joined through at once only when this node is alone (MembershipEngine.replaceSeeds). */
  | { readonly type: 'join'; readonly seeds: readonly string[] }
  | { readonly type: 'broadcast'; readonly payload: Uint8Array };

/** What it wants done, in order. The bytes are the driver's to keep. */
export type MembershipOutput =
  | { readonly type: 'datagram'; readonly to: string; readonly bytes: Uint8Array }
  | { readonly type: 'frame'; readonly to: string; readonly bytes: Uint8Array }
  | { readonly type: 'event'; readonly event: MembershipEvent }
  | { readonly type: 'user'; readonly payload: Uint8Array };

export interface MembershipCoreOptions extends Omit<EngineOptions, 'environment'> {
  readonly random: Prng;
  /** The clock at construction, ms: the engine reads it before the first tick. */
  readonly nowMs: number;
  /** Outputs one batch may hold (a gossip round to a large farm sends hundreds). */
  readonly outputsMax?: number;
  /**
   * The agent's hot path: the engine reads this clock (not the last tick) and sends
   * straight through these functions, with bytes valid only during the call, instead of
   * queueing copies in the batch. Events and user broadcasts still come out of ready().
   * A simulator leaves it out, so every send is an output it can deliver or drop.
   */
  readonly direct?: DirectEnvironment;
}

/** What a driver on real sockets gives the engine directly (engine-environment.ts). */
export type DirectEnvironment = Pick<EngineEnvironment, 'nowMs' | 'sendDatagram' | 'sendFrame'>;

/** Outputs one batch holds at most by default: a full push-pull and a gossip round to a 10,000-node farm fit. */
const kOutputsMaxDefault = 65_536;

/**
 * The membership engine behind the common contract (contract.ts): inputs in by step(),
 * time in by tick(nowMs), datagrams, frames, events and user broadcasts out through
 * ready()/advance(). The engine itself keeps its EngineEnvironment (the agent's hot path
 * sends straight from it, without a batch); this adapter gives it an environment whose
 * clock is the last tick and whose sends queue copies, so a stack can compose it with
 * the other cores. Inputs between ticks see the time of the last tick.
 */
export class MembershipCore implements SansIoCore<MembershipInput, MembershipOutput> {
  readonly engine: MembershipEngine;
  private readonly out: OutputQueue<MembershipOutput>;
  private clockMs: number;

  constructor(options: MembershipCoreOptions) {
    this.clockMs = options.nowMs;
    this.out = new OutputQueue(options.outputsMax ?? kOutputsMaxDefault);
    const { random, nowMs: _nowMs, outputsMax: _outputsMax, direct, ...engineOptions } = options;
    this.engine = new MembershipEngine({
      ...engineOptions,
      environment: direct !== undefined ? { nowMs: direct.nowMs, random, sendDatagram: direct.sendDatagram, sendFrame: direct.sendFrame } : {
        nowMs: () => this.clockMs,
        random,
        // The engine's bytes may be a view of reused scratch: the batch keeps copies.
        sendDatagram: (to, bytes) => this.out.push({ type: 'datagram', to, bytes: bytes.slice() }),
        sendFrame: (to, bytes) => this.out.push({ type: 'frame', to, bytes: bytes.slice() }),
      },
    });
  }

  step(input: MembershipInput): void {
    const engine = this.engine;
    switch (input.type) {
      case 'datagram':
        engine.receiveDatagram(input.from, input.bytes);
        break;
      case 'frame':
        engine.receiveFrame(input.from, input.bytes);
        break;
      case 'unreachable':
        engine.unreachable(input.to);
        break;
      case 'stream-failed':
        engine.streamFailed(input.to);
        break;
      case 'lag':
        engine.reportEventLoopLag(input.lagMs);
        break;
      case 'start':
        engine.start();
        break;
      case 'leave':
        engine.leave();
        break;
      case 'meta':
        engine.setMeta(input.meta);
        break;
      case 'broadcast':
        engine.broadcastUser(input.payload);
        break;
      case 'join':
        engine.replaceSeeds(input.seeds);
        break;
    }
    this.collect();
  }

  /**
   * step({ type: 'datagram' }) for one datagram of a batch the driver announced with
   * engine.batchArrived() (the clock read once per batch): no input object, so the
   * agent's receive path allocates nothing per datagram.
   */
  receiveInBatch(from: string, bytes: Uint8Array): void {
    this.engine.receiveInBatch(from, bytes);
    this.collect();
  }

  tick(nowMs: number): void {
    if (nowMs > this.clockMs) this.clockMs = nowMs;
    this.engine.tick();
    this.collect();
  }

  ready(): readonly MembershipOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  private collect(): void {
    // Most receives raise nothing: no drain, no allocation.
    if (!this.engine.hasPendingOutput) return;
    for (const event of this.engine.drainEvents()) this.out.push({ type: 'event', event });
    for (const payload of this.engine.drainUserMessages()) this.out.push({ type: 'user', payload });
  }
}
