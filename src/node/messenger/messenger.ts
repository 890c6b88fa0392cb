import { ChannelCounters, type DropReason } from '../../core/messenger/channel-counters.js';
import type { ChannelCodec } from '../../core/messenger/channel-codec.js';
import { channelById, channelByName, kChannelTable, type ChannelName, type ChannelSpec } from '../../core/messenger/channel-table.js';
import { decodeEnvelope, encodeEnvelope, type DeliveryMode } from '../../core/messenger/envelope.js';
import { MemberDirectory, type MemberStatus } from '../../core/messenger/member-directory.js';
import { MessengerError } from '../../core/messenger/messenger-error.js';
import type { MembershipEvent } from '../../core/membership/membership-event.js';
import type { AppMessage } from '../driver/agent-worker-protocol.js';
import { MessengerChannel, type ChannelSink, type Route } from './messenger-channel.js';
import type { MessengerTransport } from './messenger-transport.js';

/**
 * The one messenger of a node: all node-to-node traffic above membership goes through
 * it. Sends are addressed by node id; every message carries an envelope (envelope.ts)
 * inside the farm-key seal, so the sender id it names is authenticated by AES-GCM with
 * the rest, and a receiver takes it only from a member of the farm (member-directory.ts).
 * Channels are registered by name (channel-table.ts) with a typed codec; delivery is a
 * best-effort datagram, the reliable stream (TCP), or an epidemic broadcast (gossip).
 *
 * What the farm key cannot do: it lets any member claim another member's id. Against
 * insiders, per-pair keys (X25519) or origin signatures are needed; not built yet.
 */
export interface MessengerOptions {
  readonly selfId: string;
  readonly transport: MessengerTransport;
  /** Members the directory holds at most: the membership table's membersMax. */
  readonly membersMax: number;
  /** Largest broadcast payload (the engine's userPayloadBytesMax), envelope included. */
  readonly broadcastBytesMax: number;
  /**
   * Reads one member from the membership table itself, for a send to an id whose event
   * has not reached this thread yet (the table in shared memory is ahead of the events
   * by up to a tick). Only sends use it: a scan per forged id received would let a
   * flood of unknown ids cost a table scan each.
   */
  readonly lookupMember?: (id: string) => { readonly address: string; readonly status: MemberStatus } | undefined;
}

/** Messages waiting to be handed to the transport in one batch at most; more are dropped and counted. */
export const kMessengerOutboxMax = 8192;
/**
 * The channels an extra network carries (issue 19's network selection): the cluster
 * service's envelopes (components, failure detection) and the administrative round
 * trips routed there (farm RPC, whose own rule admits only the services registered for
 * networks, and package chunks). Anything else arriving on an extra network is dropped
 * (`network-refused`): the farm's control, broadcasts and FMIDB stay on the farm address.
 */
export const kNetworkChannels: ReadonlySet<ChannelName> = new Set<ChannelName>(['cluster', 'rpc', 'install-chunks']);
/** Counters of messages for no known channel are kept under this name. */
export const kUnknownChannelName = 'unknown';

export class Messenger implements ChannelSink {
  readonly directory: MemberDirectory;
  private readonly options: MessengerOptions;
  private readonly channels = new Map<number, MessengerChannel<unknown>>();
  private readonly counters = new Map<string, ChannelCounters>();
  private outbox: AppMessage[] = [];
  private flushQueued = false;
  private closed = false;
  /**
   * The last send's payload, channel and mode, and the envelope made of it: a multicast
   * is the same payload sent to each peer in a row, so its envelope is written once and
   * the outbox holds the one bytes object for every peer. The worker then seals it once
   * (node-driver.ts); structured cloning keeps the identity across postMessage. Cleared
   * at each flush.
   */
  private lastPayload: Uint8Array | null = null;
  private lastSpecId = 0;
  private lastMode: DeliveryMode | null = null;
  private lastEnvelope: Uint8Array | null = null;

  constructor(options: MessengerOptions) {
    this.options = options;
    this.directory = new MemberDirectory(options.selfId, options.membersMax);
    for (const spec of kChannelTable) this.counters.set(spec.name, new ChannelCounters());
    this.counters.set(kUnknownChannelName, new ChannelCounters());
  }

  get selfId(): string {
    return this.options.selfId;
  }

  /** Opens a channel of the table by name, with its codec; each name once per messenger. */
  channel<T>(name: ChannelName, codec: ChannelCodec<T>): MessengerChannel<T> {
    const spec = channelByName(name);
    if (this.channels.has(spec.id)) throw new MessengerError('GALAXY_MESSENGER_CHANNEL_TAKEN', `channel "${name}" is open already`);
    const channel = new MessengerChannel<T>(spec, codec, this);
    this.channels.set(spec.id, channel as MessengerChannel<unknown>);
    return channel;
  }

  // ---- membership feeds the directory ----------------------------------------------

  /** One membership event, in the order the engine raised them. */
  memberEvent(event: Pick<MembershipEvent, 'type' | 'id' | 'address'>): void {
    if (event.type === 'reap') {
      this.directory.remove(event.id);
      return;
    }
    const status: MemberStatus = event.type === 'dead' ? 'dead' : event.type === 'leave' ? 'left' : event.type === 'suspect' ? 'suspect' : 'alive';
    this.directory.set(event.id, event.address, status);
  }

  /** The whole table at once (at start, before events flow). */
  syncMembers(members: readonly { id: string; address: string; status: MemberStatus; self: boolean }[]): void {
    for (const member of members) if (!member.self) this.directory.set(member.id, member.address, member.status);
  }

  /** The farm revoked a node: what it sends is dropped from now on. */
  revoke(id: string): void {
    this.directory.revoke(id);
  }

  // ---- sending -----------------------------------------------------------------------

  send(spec: ChannelSpec, to: string, payload: Uint8Array, mode: DeliveryMode, route?: Route): boolean {
    const counters = this.counters.get(spec.name)!;
    if (!spec.modes.includes(mode) || mode === 'broadcast') throw new MessengerError('GALAXY_MESSENGER_MODE_REFUSED', `channel "${spec.name}" does not carry ${mode} messages`);
    if (this.closed) return this.dropped(counters, 'no-route');
    if (to === this.options.selfId) {
      // To ourselves: handed over locally, never through the network (it would be refused as self-sent).
      counters.sent++;
      const copy = payload.slice();
      queueMicrotask(() => this.deliver(spec, counters, this.options.selfId, 'local', mode, copy));
      return true;
    }
    const entry = this.directory.lookup(to) ?? this.lookupTable(to);
    if (entry === undefined) return this.dropped(counters, 'no-route');
    if (this.outbox.length >= kMessengerOutboxMax) return this.dropped(counters, 'outbox-full');
    counters.sent++;
    let bytes: Uint8Array;
    if (payload === this.lastPayload && spec.id === this.lastSpecId && mode === this.lastMode) bytes = this.lastEnvelope!;
    else {
      bytes = encodeEnvelope(mode, spec.id, this.options.selfId, payload);
      this.lastPayload = payload;
      this.lastSpecId = spec.id;
      this.lastMode = mode;
      this.lastEnvelope = bytes;
    }
    this.outbox.push(route === undefined ? { peer: entry.address, bytes, stream: mode === 'stream' } : { peer: route.address, bytes, stream: mode === 'stream', ...(route.via === undefined ? {} : { via: route.via }) });
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    return true;
  }

  broadcast(spec: ChannelSpec, payload: Uint8Array): void {
    const counters = this.counters.get(spec.name)!;
    if (!spec.modes.includes('broadcast')) throw new MessengerError('GALAXY_MESSENGER_MODE_REFUSED', `channel "${spec.name}" does not carry broadcasts`);
    const bytes = encodeEnvelope('broadcast', spec.id, this.options.selfId, payload);
    if (bytes.length > this.options.broadcastBytesMax) {
      counters.drop('too-large');
      throw new MessengerError('GALAXY_MESSENGER_TOO_LARGE', `a broadcast of ${bytes.length} bytes (envelope included) exceeds ${this.options.broadcastBytesMax}`);
    }
    if (this.closed) return void this.dropped(counters, 'no-route');
    counters.sent++;
    this.options.transport.broadcast(bytes);
  }

  /** Hands the outbox to the transport now (it is flushed at the end of the current turn anyway). */
  flush(): void {
    this.flushQueued = false;
    this.lastPayload = null;
    this.lastEnvelope = null;
    if (this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    this.options.transport.sendApp(batch);
  }

  // ---- receiving ---------------------------------------------------------------------

  /** Application messages from the transport (opened by the farm key already). */
  receive(messages: readonly AppMessage[]): void {
    for (const message of messages) this.accept(message.bytes, message.peer, message.stream ? 'stream' : 'datagram', message.via);
  }

  /** One user broadcast from the membership engine. */
  receiveBroadcast(payload: Uint8Array): void {
    this.accept(payload, 'gossip', 'broadcast');
  }

  /** Per channel: sent, received, dropped by reason. */
  snapshot(): Record<string, ReturnType<ChannelCounters['snapshot']>> {
    const out: Record<string, ReturnType<ChannelCounters['snapshot']>> = {};
    for (const [name, counters] of this.counters) out[name] = counters.snapshot();
    return out;
  }

  close(): void {
    this.closed = true;
    this.flush();
  }

  private accept(bytes: Uint8Array, peer: string, arrived: DeliveryMode, via?: string): void {
    const unknown = this.counters.get(kUnknownChannelName)!;
    if (this.closed) return;
    let envelope;
    try {
      envelope = decodeEnvelope(bytes);
    } catch {
      unknown.drop('malformed');
      return;
    }
    const spec = channelById(envelope.channelId);
    if (spec === undefined) return void unknown.drop('unknown-channel');
    const counters = this.counters.get(spec.name)!;
    // The mode must be the one it travelled by, and one the channel carries.
    if (envelope.mode !== arrived || !spec.modes.includes(arrived)) return void counters.drop('mode-refused');
    if (via !== undefined && !kNetworkChannels.has(spec.name as ChannelName)) return void counters.drop('network-refused');
    const verdict = this.directory.check(envelope.sender, arrived, peer);
    if (verdict !== 'ok') return void counters.drop(verdict);
    this.deliver(spec, counters, envelope.sender, peer, arrived, envelope.payload, via);
  }

  private deliver(spec: ChannelSpec, counters: ChannelCounters, from: string, peer: string, mode: DeliveryMode, payload: Uint8Array, via?: string): void {
    const channel = this.channels.get(spec.id);
    if (channel === undefined || channel.handler === null) return void counters.drop('no-handler');
    let value: unknown;
    try {
      value = channel.codec.decode(payload);
    } catch {
      return void counters.drop('decode');
    }
    counters.received++;
    try {
      channel.handler(via === undefined ? { from, peer, mode, value } : { from, peer, mode, via, value });
    } catch {
      // A handler's bug must not stop the rest of the batch; it is counted, and its own logs say more.
      counters.drop('handler-failed');
    }
  }

  private lookupTable(id: string): { address: string } | undefined {
    const member = this.options.lookupMember?.(id);
    if (member === undefined || !this.directory.set(id, member.address, member.status)) return undefined;
    return member;
  }

  private dropped(counters: ChannelCounters, reason: DropReason): false {
    counters.drop(reason);
    return false;
  }
}
