import type { ApiStreamSocket } from '../../surface/api/api-route.js';
import { kInboxReadMax, type ChannelInbox, type InboxCursor, type InboxRead } from './channel-inbox.js';
import { hopTrace } from '../../node/util/hop-trace.js';

/**
 * One WebSocket client of a channel's delivery stream (issue 18: a push stream for
 * integrators instead of long-polls): GET /v1/clusters/:name/channels/:channel/stream.
 *
 * The inbox's new entries go out as text frames, each the JSON of a long-poll read
 * (`{entries, first, dropped}`, at most kInboxReadMax entries), as soon as the callback
 * that delivered them returns (a microtask: the deliveries of one batch from the worker
 * are one frame; under load, frames wait for the two in flight and grow). It was
 * setImmediate, which waited for the rest of the loop's poll phase (issue 18: latency). At most kStreamFramesInFlightMax frames are in ws's hands at once; the
 * next waits for ws's `written` callback, which comes only when the socket took the bytes,
 * so a client that reads slowly stops the stream at TCP's pace. Deliveries count as
 * consumed (the senders' credit back) only when written (ChannelInbox.advance): a slow
 * client pushes back on the senders through the channel's flow control instead of losing
 * messages. When it goes away, what it held is consumed.
 */
export const kStreamFramesInFlightMax = 2;
/** Payload bytes one frame carries at most (beyond its first entry): a frame's JSON is about 4/3 of it. */
export const kStreamFramePayloadBytesMax = 1 << 20;

export class ChannelStream {
  private readonly cursor: InboxCursor;
  /** The `at` through which entries are in frames handed to ws (written or not). */
  private sentThrough: number;
  private inFlight = 0;
  private pumpQueued = false;
  private closed = false;
  private readonly onPush = (): void => this.schedule();
  private readonly pumpNow = (): void => {
    this.pumpQueued = false;
    this.pump();
  };

  constructor(
    private readonly inbox: ChannelInbox,
    private readonly socket: ApiStreamSocket,
    after: number,
    private readonly serialize: (read: InboxRead) => string,
    /** Deliveries now consumed (to step into the channel's core). */
    private readonly consumed: (count: number) => void,
  ) {
    this.cursor = { after };
    inbox.attach(this.cursor, this.onPush);
    this.sentThrough = this.cursor.after;
    socket.onClose(() => this.close());
    this.schedule();
  }

  /** Stops the stream (its client went away, or the channel is gone here: then the socket is closed with code and reason). */
  close(code?: number, reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    const count = this.inbox.detach(this.cursor, this.onPush);
    // Closed by the agent, the channel is gone here: no core to give credit to.
    if (code !== undefined) {
      this.socket.close(code, reason ?? '');
      return;
    }
    if (count > 0) this.consumed(count);
  }

  private schedule(): void {
    if (this.pumpQueued || this.closed) return;
    this.pumpQueued = true;
    queueMicrotask(this.pumpNow);
  }

  private pump(): void {
    while (!this.closed && this.inFlight < kStreamFramesInFlightMax && this.sentThrough < this.inbox.last) {
      const read = cut(this.inbox.read(this.sentThrough, kInboxReadMax));
      if (read.entries.length === 0) {
        // Nothing kept after sentThrough (it cannot happen while attached: entries leave only after every stream wrote them).
        break;
      }
      const through = read.entries[read.entries.length - 1]!.at;
      this.sentThrough = through;
      this.inFlight++;
      if (hopTrace !== null) for (const e of read.entries) if (e.kind === 'message') hopTrace.scan('ws.send', e.payload);
      this.socket.send(this.serialize(read), (error) => {
        if (hopTrace !== null) for (const e of read.entries) if (e.kind === 'message') hopTrace.scan('ws.written', e.payload);
        this.inFlight--;
        if (this.closed) return;
        if (error !== undefined && error !== null) {
          this.close();
          return;
        }
        const count = this.inbox.advance(this.cursor, through);
        if (count > 0) this.consumed(count);
        this.schedule();
      });
    }
  }
}

/** The read's first entries up to kStreamFramePayloadBytesMax of payload (one at least). */
function cut(read: InboxRead): InboxRead {
  let bytes = 0;
  for (let i = 0; i < read.entries.length; i++) {
    const e = read.entries[i]!;
    if (e.kind === 'message') bytes += e.payload.length;
    if (bytes > kStreamFramePayloadBytesMax && i > 0) return { ...read, entries: read.entries.slice(0, i) };
  }
  return read;
}
