// A harness for the membership engine's parts (Prober, MemberState, Dissemination,
// Watcher, AntiEntropy): one EngineContext wired with the five real parts exactly as
// MembershipEngine wires them, a manual clock, a seeded Prng, and every datagram and
// frame sent captured and decoded with the wire codec. A test then drives ONE part
// through its own methods and reads what it changed: the table, the events, the sends.
import { AntiEntropy } from '../../src/core/membership/anti-entropy.js';
import { membershipConfig, type MembershipOptions } from '../../src/core/membership/config.js';
import { Dissemination } from '../../src/core/membership/dissemination.js';
import { EngineContext } from '../../src/core/membership/engine-context.js';
import { EngineScratch } from '../../src/core/membership/engine-scratch.js';
import { EngineStats } from '../../src/core/membership/engine-stats.js';
import { MemberState } from '../../src/core/membership/member-state.js';
import { Prober } from '../../src/core/membership/prober.js';
import { Watcher } from '../../src/core/membership/watcher.js';
import { createRuntime } from '../../src/core/kernels/create-runtime.js';
import { type Runtime } from '../../src/core/runtime/runtime.js';
import { MembershipTable } from '../../src/core/table/membership-table.js';
import { Prng } from '../../src/core/util/prng.js';
import { Codec } from '../../src/core/wire/codec.js';
import * as F from '../../src/core/wire/format.js';
import { parseWireAddress, type Message } from '../../src/core/wire/message.js';
import { addressOfName, idOfName, nameOfAddress } from './membership-transcript.js';

export interface Sent {
  kind: 'dgram' | 'frame';
  to: string;
  atMs: number;
  messages: Message[];
}

/** Sends captured per harness; a part test that sends more has a runaway loop. */
const kSentMax = 100_000;

export class PartsHarness {
  readonly ctx: EngineContext;
  readonly runtime: Runtime;
  readonly table: MembershipTable;
  readonly state: MemberState;
  readonly prober: Prober;
  readonly dissemination: Dissemination;
  readonly antiEntropy: AntiEntropy;
  readonly watcher: Watcher;
  readonly sent: Sent[] = [];
  private readonly codec: Codec;
  private readonly frameCodec: Codec;
  private clockMs = 0;

  constructor(options: MembershipOptions = {}, seed = 1, seeds: readonly string[] = [], unreachableEvidence = true) {
    const config = membershipConfig({ membersMax: 64, ...options });
    // The scratch holds one whole frame (kFrameBytesMax, 16 MiB).
    this.runtime = createRuntime({ backend: 'ts', memoryBytes: 48 * 1024 * 1024 });
    this.codec = new Codec(this.runtime);
    this.frameCodec = new Codec(this.runtime, 1 << 20, { messages: 4, entries: 1024, payloadBytes: 65536 });
    const scratch = new EngineScratch(this.runtime, config.membersMax);
    this.table = MembershipTable.create(this.runtime, config.membersMax);
    const ctx = new EngineContext({
      config,
      runtime: this.runtime,
      env: {
        nowMs: () => this.clockMs,
        random: new Prng(seed),
        sendDatagram: (to, bytes) => this.capture('dgram', to, bytes),
        sendFrame: (to, bytes) => this.capture('frame', to, bytes),
      },
      scratch,
      table: this.table,
      stats: new EngineStats(),
      selfId: idOfName('A'),
      selfAddress: addressOfName('A'),
      // As the simulator: no reply-address text cache (formatting is the same either way).
      addressTextsMax: 0,
    });
    this.ctx = ctx;
    this.state = ctx.state = new MemberState(ctx);
    this.prober = ctx.prober = new Prober(ctx);
    this.dissemination = ctx.dissemination = new Dissemination(ctx);
    this.watcher = ctx.watcher = new Watcher(ctx, unreachableEvidence);
    this.antiEntropy = ctx.antiEntropy = new AntiEntropy(ctx, seeds);
    ctx.selfRow = this.table.upsert(idOfName('A'), parseWireAddress(addressOfName('A')), 1, F.kStatusAlive, 0);
    this.table.markSelf(ctx.selfRow);
    this.state.markSelfKnown();
  }

  /** Sets the clock (the engine reads it at the start of every call; parts read ctx.now). */
  at(ms: number): void {
    this.clockMs = ms;
    this.ctx.now = ms;
  }

  /** Puts members straight into the table as known (as adoptTable does), without events. */
  adopt(...members: Array<[name: string, status: number, incarnation: number]>): void {
    for (const [name, status, incarnation] of members) this.table.upsert(idOfName(name), parseWireAddress(addressOfName(name)), incarnation, status, this.clockMs);
    this.state.adopt();
    this.prober.rebuildProbeOrder();
  }

  row(name: string): number {
    return this.table.find(idOfName(name));
  }

  statusOf(name: string): number {
    const row = this.row(name);
    return row < 0 ? F.kStatusEmpty : this.table.status[row]!;
  }

  /**
   * Decodes `messages` as one datagram into the engine's receive tape and returns the
   * tape record of each: what MembershipEngine.receiveDatagram hands to the parts.
   */
  tapeOf(messages: readonly Message[]): number[] {
    const bytes = this.codec.encode(messages);
    const { u8 } = this.runtime.views;
    u8.set(bytes, this.ctx.scratch.receivePacket);
    const tape = this.ctx.scratch.receiveTape;
    const count = this.runtime.kernels.decode(this.ctx.scratch.receivePacket, bytes.length, F.kDatagramBytesMax, tape.pointer);
    if (count < 0) throw new Error(`decode failed: ${count}`);
    return Array.from({ length: count }, (_, i) => tape.message(i));
  }

  /** Encodes one message as a frame and copies it where receiveFrame expects it. */
  frameOf(message: Message): Uint8Array {
    const bytes = this.frameCodec.encode([message]);
    this.runtime.views.u8.set(bytes, this.ctx.scratch.frame);
    return bytes;
  }

  /** Sends captured so far, and forgets them. */
  drain(): Sent[] {
    return this.sent.splice(0);
  }

  private capture(kind: 'dgram' | 'frame', to: string, bytes: Uint8Array): void {
    if (this.sent.length >= kSentMax) throw new Error(`more than ${kSentMax} sends captured`);
    const codec = kind === 'dgram' ? this.codec : this.frameCodec;
    this.sent.push({ kind, to: nameOfAddress(to), atMs: this.clockMs, messages: codec.decode(bytes) });
  }
}
