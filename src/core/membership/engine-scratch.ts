import type { Runtime } from '../runtime/runtime.js';
import * as F from '../wire/format.js';
import { Tape } from '../wire/tape.js';
import { MessageParts } from './message-parts.js';

/** Scratch memory an engine uses within one call; engines on one thread may share it. */
export class EngineScratch {
  readonly parts: MessageParts;
  readonly receiveTape: Tape;
  readonly receivePacket: number;
  readonly sendPacket: number;
  readonly frame: number;
  readonly frameTape: Tape;
  readonly rowList: number;

  constructor(runtime: Runtime, membersMax: number) {
    this.parts = new MessageParts(runtime, membersMax);
    this.receiveTape = new Tape(runtime, { messages: F.kCompoundPartsMax, entries: 256, payloadBytes: 8192 });
    this.receivePacket = runtime.allocate(F.kDatagramBytesMax + 64, 8);
    this.sendPacket = runtime.allocate(F.kDatagramBytesMax + 64, 8);
    this.frame = runtime.allocate(F.kFrameBytesMax, 8);
    this.frameTape = new Tape(runtime, { messages: 1, entries: 0, payloadBytes: 4 * F.kSummaryBucketsMax });
    this.rowList = runtime.allocate(64 * 4, 8);
  }
}
