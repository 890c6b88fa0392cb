import type { Runtime } from '../runtime/runtime.js';
import * as F from '../wire/format.js';
import { Tape } from '../wire/tape.js';
import { MessageParts } from './message-parts.js';

const kNoPart = new Uint8Array(0);

/** Scratch memory an engine uses within one call; engines on one thread may share it. */
export class EngineScratch {
  readonly parts: MessageParts;
  readonly receiveTape: Tape;
  readonly receivePacket: number;
  readonly sendPacket: number;
  readonly frame: number;
  readonly frameTape: Tape;
  readonly rowList: number;
  /**
   * Views of the send packet, one per datagram length (at most kDatagramBytesMax + 1 of
   * them, made on first use): handing a datagram to the environment allocates nothing.
   * The runtime's memory never grows, so a view stays valid.
   */
  private readonly sendViews: Array<Uint8Array | undefined> = [];
  /**
   * The parts of the datagram being assembled (Dissemination.sendTo), at most
   * kCompoundPartsMax; emptied before the datagram is handed over, so engines sharing
   * this scratch never see each other's parts.
   */
  readonly partList: Uint8Array[] = new Array<Uint8Array>(F.kCompoundPartsMax).fill(kNoPart);
  private readonly memory: Uint8Array;

  constructor(runtime: Runtime, membersMax: number) {
    this.memory = runtime.views.u8;
    this.parts = new MessageParts(runtime, membersMax);
    this.receiveTape = new Tape(runtime, { messages: F.kCompoundPartsMax, entries: 256, payloadBytes: 8192 });
    this.receivePacket = runtime.allocate(F.kDatagramBytesMax + 64, 8);
    this.sendPacket = runtime.allocate(F.kDatagramBytesMax + 64, 8);
    this.frame = runtime.allocate(F.kFrameBytesMax, 8);
    this.frameTape = new Tape(runtime, { messages: 1, entries: 0, payloadBytes: 4 * F.kSummaryBucketsMax });
    this.rowList = runtime.allocate(64 * 4, 8);
  }

  /** The first `length` bytes of the send packet (a cached view: do not keep it past the send). */
  sendView(length: number): Uint8Array {
    if (length > F.kDatagramBytesMax) return this.memory.subarray(this.sendPacket, this.sendPacket + length);
    let view = this.sendViews[length];
    if (view === undefined) this.sendViews[length] = view = this.memory.subarray(this.sendPacket, this.sendPacket + length);
    return view;
  }
}
