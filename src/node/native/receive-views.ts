/**
 * Views of the datagrams in the addon's receive area, made once per (slot, length) and
 * reused, so that handing a datagram to JavaScript allocates nothing in steady state
 * (issue 14: zero allocations per datagram). A datagram's view is valid only during its
 * callback, as the area is: the next batch overwrites both.
 *
 * A farm's datagrams come in a few sizes (a ping or an ack with a heartbeat, plus the
 * news that rides along), so few views are ever made; `viewsMax` bounds them anyway, and
 * the cache is emptied when it is reached (the cost is one view per datagram until the
 * cache fills again).
 */
export const kReceiveViewsMax = 8192;

export class ReceiveViews {
  private readonly slotBytes: number;
  private readonly viewsMax: number;
  /** views[slot][length]; empty until a datagram of that slot and length arrives. */
  private views: Array<Array<Uint8Array | undefined>> = [];
  private viewCount = 0;
  private area: Uint8Array | null = null;
  private areaBuffer: ArrayBufferLike | null = null;
  private areaOffset = 0;

  constructor(slotBytes: number, viewsMax = kReceiveViewsMax) {
    if (!Number.isInteger(slotBytes) || slotBytes < 1) throw new RangeError(`slotBytes must be a positive integer, got ${slotBytes}`);
    if (!Number.isInteger(viewsMax) || viewsMax < 1) throw new RangeError(`viewsMax must be a positive integer, got ${viewsMax}`);
    this.slotBytes = slotBytes;
    this.viewsMax = viewsMax;
  }

  /** Views made and still cached (for tests and diagnosis). */
  get cached(): number {
    return this.viewCount;
  }

  /**
   * Sets the receive area a batch arrived in. The addon reuses one area, so this is a
   * comparison per batch; a different area (a rebuilt socket) drops every cached view.
   */
  use(buffer: Uint8Array): void {
    if (this.areaBuffer === buffer.buffer && this.areaOffset === buffer.byteOffset && this.area!.byteLength === buffer.byteLength) return;
    // Plain Uint8Array views, not Buffers: Buffer#slice shares memory, and a handler that
    // copies with bytes.slice() must really get a copy.
    this.area = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    this.areaBuffer = buffer.buffer;
    this.areaOffset = buffer.byteOffset;
    this.clear();
  }

  /** The datagram of `length` bytes in `slot` of the area last given to use(). */
  view(slot: number, length: number): Uint8Array {
    let bySlot = this.views[slot];
    if (bySlot === undefined) this.views[slot] = bySlot = [];
    let view = bySlot[length];
    if (view !== undefined) return view;
    if (this.viewCount >= this.viewsMax) {
      this.clear();
      this.views[slot] = bySlot = [];
    }
    const start = slot * this.slotBytes;
    bySlot[length] = view = this.area!.subarray(start, start + length);
    this.viewCount++;
    return view;
  }

  private clear(): void {
    this.views = [];
    this.viewCount = 0;
  }
}
