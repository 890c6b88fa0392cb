import { ChannelError, type ChannelErrorCode } from '../../core/channels/channel-error.js';
import type { AppCommand, AppEvent } from '../../core/channels/channel-layer-io.js';
import type { ChannelOptions } from '../../core/channels/channel-options.js';
import type { ChannelView } from '../../core/channels/vs-group-port.js';

/** What a channel's iterator yields: messages in the channel's order, and view changes in-band. */
export type ChannelEvent =
  | { readonly kind: 'message'; readonly sender: string; readonly viewId: number; readonly seq: number; readonly payload: Uint8Array }
  | { readonly kind: 'view'; readonly view: ChannelView };

/** Where a sent message went: the view it was sent in and its seq there. */
export interface SendReceipt {
  viewId: number;
  seq: number;
}

export interface ChannelEndpointOptions {
  /**
   * Per unreliable channel, the most messages waiting for the application; beyond it
   * they are dropped and counted. Reliable channels are bounded by the layer's credit
   * (members × windowMessages messages, across view changes). Default 65,536.
   */
  eventsBufferedMax?: number;
}

interface PendingSend {
  resolve: (receipt: SendReceipt) => void;
  reject: (error: ChannelError) => void;
  receipt: SendReceipt | null;
}

/**
 * The API components use, a thin layer over one member's ChannelLayer: open a channel
 * with its guarantees; `send` returns a promise resolved per the guarantee (see the
 * `sendDone` event); each channel is an async iterable of messages with sender, view and
 * seq, with view changes in-band. A message counts as consumed when the reader asks for
 * the next one (it is done with it), so a slow reader closes the senders' windows: flow
 * control reaches the reader. Consumption is stepped from the reader's call, never from
 * inside the driver's handling of the layer's outputs.
 *
 * It does no I/O: the driver that owns the layer passes `submit` (step the command
 * into the layer, then act on its outputs) and hands every application event of the
 * layer to `handle`.
 */
export class ChannelEndpoint {
  private readonly submit: (command: AppCommand) => void;
  private readonly eventsBufferedMax: number;
  private readonly channels = new Map<string, Channel>();
  private readonly sends = new Map<number, PendingSend>();
  private sendIdNext = 1;
  /** Called when another member's channel becomes known here. */
  onOpened: ((channel: Channel) => void) | null = null;

  constructor(submit: (command: AppCommand) => void, options: ChannelEndpointOptions = {}) {
    const eventsBufferedMax = options.eventsBufferedMax ?? 65_536;
    if (!Number.isInteger(eventsBufferedMax) || eventsBufferedMax < 1) throw new ChannelError('GALAXY_CHANNEL_BAD_OPTIONS', 'options.eventsBufferedMax must be a positive integer');
    this.submit = submit;
    this.eventsBufferedMax = eventsBufferedMax;
  }

  /** Opens (or joins) a channel; throws a ChannelError if its guarantees conflict with the channel's. */
  open(name: string, options: ChannelOptions): Channel {
    this.submit({ kind: 'open', name, options });
    return this.channelNamed(name, options.reliability === 'reliable');
  }

  /** A channel known here (opened here or by another member), or undefined. */
  channel(name: string): Channel | undefined {
    return this.channels.get(name);
  }

  /** The driver hands every application event of the layer here. */
  handle(event: AppEvent): void {
    switch (event.kind) {
      case 'opened': {
        const known = this.channels.has(event.channel);
        const channel = this.channelNamed(event.channel, event.options.reliability === 'reliable');
        if (!known) this.onOpened?.(channel);
        return;
      }
      case 'view':
        for (const channel of this.channels.values()) channel.push({ kind: 'view', view: event.view });
        return;
      case 'delivered':
        this.channels.get(event.channel)?.push({ kind: 'message', sender: event.sender, viewId: event.viewId, seq: event.seq, payload: event.payload });
        return;
      case 'sent': {
        const pending = this.sends.get(event.sendId);
        if (pending !== undefined) pending.receipt = { viewId: event.viewId, seq: event.seq };
        return;
      }
      case 'sendDone': {
        const pending = this.sends.get(event.sendId);
        this.sends.delete(event.sendId);
        pending?.resolve(pending.receipt!);
        return;
      }
      case 'sendFailed': {
        const pending = this.sends.get(event.sendId);
        this.sends.delete(event.sendId);
        pending?.reject(new ChannelError(event.code as ChannelErrorCode, event.message));
        return;
      }
      case 'slowMember':
        return; // for the cluster service, not for components
    }
  }

  /** @internal Channel.send. */
  sendOn(name: string, payload: Uint8Array): Promise<SendReceipt> {
    const sendId = this.sendIdNext++;
    return new Promise<SendReceipt>((resolve, reject) => {
      this.sends.set(sendId, { resolve, reject, receipt: null });
      this.submit({ kind: 'send', sendId, channel: name, payload });
    });
  }

  /** @internal Channel's iterator, when the application is done with `count` messages. */
  consumed(name: string, count: number): void {
    this.submit({ kind: 'consume', channel: name, count });
  }

  /** @internal */
  command(command: AppCommand): void {
    this.submit(command);
  }

  private channelNamed(name: string, reliable: boolean): Channel {
    let channel = this.channels.get(name);
    if (channel === undefined) this.channels.set(name, (channel = new Channel(this, name, reliable, this.eventsBufferedMax)));
    return channel;
  }
}

/** One channel at one member, as a component sees it. */
export class Channel implements AsyncIterable<ChannelEvent> {
  readonly name: string;
  /** Unreliable messages dropped because the application fell more than eventsBufferedMax behind. */
  eventsDropped = 0;
  private readonly endpoint: ChannelEndpoint;
  private readonly reliable: boolean;
  private readonly eventsBufferedMax: number;
  private readonly events: ChannelEvent[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<ChannelEvent>) => void) | null = null;
  /** Reliable messages handed to the reader and not yet reported consumed. */
  private handedOut = 0;
  private iterating = false;
  private closed = false;

  constructor(endpoint: ChannelEndpoint, name: string, reliable: boolean, eventsBufferedMax: number) {
    this.endpoint = endpoint;
    this.name = name;
    this.reliable = reliable;
    this.eventsBufferedMax = eventsBufferedMax;
  }

  /** Sends a message; resolves when the channel's guarantee is met (see AppEvent 'sendDone'), rejects with a ChannelError. */
  send(payload: Uint8Array): Promise<SendReceipt> {
    return this.endpoint.sendOn(this.name, payload);
  }

  /** Changes this channel's rate limits at this member from now on. */
  setRate(limits: { rateMessagesPerSecond?: number; senderRateMessagesPerSecond?: number; burstMessages?: number }): void {
    this.endpoint.command({ kind: 'setRate', channel: this.name, ...limits });
  }

  /** Ends the iteration; messages still buffered are dropped. */
  close(): void {
    this.closed = true;
    this.waiter?.({ done: true, value: undefined });
    this.waiter = null;
  }

  /** @internal The endpoint adds an event. */
  push(event: ChannelEvent): void {
    if (this.closed) return;
    if (this.waiter !== null) {
      const waiter = this.waiter;
      this.waiter = null;
      this.taken(event);
      waiter({ done: false, value: event });
      return;
    }
    // Reliable messages are never dropped: the layer's credit bounds them (members × windowMessages).
    if (!this.reliable && event.kind === 'message' && this.events.length - this.head >= this.eventsBufferedMax) {
      this.eventsDropped++;
      return;
    }
    this.events.push(event);
  }

  [Symbol.asyncIterator](): AsyncIterator<ChannelEvent> {
    if (this.iterating) throw new ChannelError('GALAXY_CHANNEL_EXISTS', `channel ${this.name} already has a reader`);
    this.iterating = true;
    return {
      next: () => {
        this.reportConsumed();
        if (this.head < this.events.length) {
          const event = this.events[this.head++]!;
          if (this.head > 1024 && this.head * 2 > this.events.length) {
            this.events.splice(0, this.head);
            this.head = 0;
          }
          this.taken(event);
          return Promise.resolve({ done: false, value: event });
        }
        if (this.closed) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => (this.waiter = resolve));
      },
      return: () => {
        this.reportConsumed();
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  private taken(event: ChannelEvent): void {
    if (event.kind === 'message' && this.reliable) this.handedOut++;
  }

  /** The reader is back for more: what it was handed is consumed, which frees its senders' windows. */
  private reportConsumed(): void {
    if (this.handedOut === 0) return;
    const count = this.handedOut;
    this.handedOut = 0;
    this.endpoint.consumed(this.name, count);
  }
}
