import { CodedError } from '../../core/util/coded-error.js';
import type { ChannelCodec } from '../../core/messenger/channel-codec.js';
import { MessengerError } from '../../core/messenger/messenger-error.js';
import type { MessengerChannel, Route } from '../../node/messenger/messenger-channel.js';

/**
 * Request/response between farm nodes over the messenger's `rpc` channel, on TCP
 * streams (sealed like all farm traffic): the way one node's service asks another's
 * (post an event to a management node, start a process on a job's node). At-least-once
 * delivery with exactly-once handling: a request is resent with the same id until its
 * answer arrives or its deadline passes, and the receiver remembers recent answers by
 * id, so a resent request is answered again without being handled twice.
 *
 * Calls are addressed by node id, and the caller's id is the messenger's authenticated
 * sender (the envelope inside the farm seal), never a field of the frame.
 *
 * Routed calls (issue 19's network selection: the lifecycle's install calls to a member
 * whose profile puts administration on another network): call(..., route) sends the
 * request, and every resend of it, to route.address from this node's socket on the
 * extra network route.via; the answer comes back on the same TCP connection (the
 * receiver answers a request that arrived on an extra network over that network's
 * connection, never over the farm address). A receiver answers requests arriving on an
 * extra network only for services registered with `{ networks: true }` (the install
 * services); any other is refused with GALAXY_RPC_NETWORK_REFUSED.
 *
 * Frame (after the messenger's envelope): u8 kind (1 request, 2 response), u8 status
 * (responses: 0 ok, 1 error), 8-byte request id (hex in JS), u8 service length, service
 * (ASCII), then the JSON body (UTF-8).
 */
const kKindRequest = 1;
const kKindResponse = 2;
/** A body larger than this is refused at the sender: bulk data goes over dedicated streams. */
export const kRpcBodyBytesMax = 4 * 1024 * 1024;
/** Answers remembered for duplicate requests. */
export const kRpcAnswersRemembered = 4096;
/** Requests in flight from this node at most. */
export const kRpcInFlightMax = 4096;

export class RpcError extends CodedError<string> {}

/** Who a request came from: the authenticated node id, and the transport peer it arrived from. */
export interface RpcSender {
  readonly id: string;
  readonly peer: string;
  /** The extra network the request arrived on; absent: the farm socket. */
  readonly via?: string;
}

export type RpcHandler = (from: RpcSender, body: unknown) => Promise<unknown> | unknown;

/** One RPC frame as the `rpc` channel's codec reads and writes it. */
export interface RpcFrame {
  readonly kind: number;
  readonly status: number;
  readonly id: string;
  readonly service: string;
  readonly body: unknown;
}

export interface FarmRpcOptions {
  readonly selfId: string;
  /** Sends a frame to a node by id (the messenger's rpc channel); false when it was dropped. */
  readonly send: (to: string, frame: RpcFrame, route?: Route) => boolean | void;
  /** Resend interval of an unanswered request, ms. */
  readonly retryMs?: number;
}

interface Pending {
  readonly to: string;
  readonly route: Route | undefined;
  readonly frame: RpcFrame;
  readonly deadlineMs: number;
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

export interface RpcCounters {
  requestsSent: number;
  retries: number;
  timeouts: number;
  handled: number;
  duplicates: number;
  unknownService: number;
  /** Requests refused because they arrived on an extra network for a service not served there. */
  networkRefused: number;
  /** Frames sent on a route (issue 19's admin network): routed requests with their resends, and answers sent back over the extra network a request came on. */
  routed: number;
}

export class FarmRpc {
  readonly counters: RpcCounters = { requestsSent: 0, retries: 0, timeouts: 0, handled: 0, duplicates: 0, unknownService: 0, networkRefused: 0, routed: 0 };
  private readonly handlers = new Map<string, RpcHandler>();
  /** Services answered on extra networks too (handle(..., { networks: true })). */
  private readonly networkServices = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  /** Answers by "sender/id": a Promise while being handled (a duplicate then waits for it), the frame after. */
  private readonly answers = new Map<string, Promise<RpcFrame> | RpcFrame>();
  private sequence = 0;
  private readonly prefix = Math.floor(Math.random() * 0xffffffff);
  private closed = false;

  constructor(private readonly options: FarmRpcOptions) {}

  /** A FarmRpc on the messenger's rpc channel: frames go out by node id over streams, and come in with their authenticated sender. */
  static over(channel: MessengerChannel<RpcFrame>, selfId: string, retryMs?: number): FarmRpc {
    const rpc = new FarmRpc({ selfId, send: (to, frame, route) => channel.send(to, frame, 'stream', route), ...(retryMs === undefined ? {} : { retryMs }) });
    channel.onMessage((message) => rpc.receive(message.via === undefined ? { id: message.from, peer: message.peer } : { id: message.from, peer: message.peer, via: message.via }, message.value));
    return rpc;
  }

  /**
   * Registers the handler of a service ("events.post", "jobs.output", ...). A name that
   * is taken already is refused (RpcError GALAXY_RPC_SERVICE_TAKEN), never replaced: a
   * second registration is either a bug or a component trying to take over a service
   * of the farm (install.apply), and either way the first owner keeps it. An owner that
   * means to replace its handler calls unhandle first. With `networks: true` the service
   * is answered on the agent's extra networks too (administrative traffic routed there).
   */
  handle(service: string, handler: RpcHandler, options: { readonly networks?: boolean } = {}): void {
    if (!/^[a-z][a-z0-9.-]{0,63}$/.test(service)) throw new RangeError(`service name "${service}" must be 1 to 64 of a-z 0-9 . - starting with a letter`);
    if (this.handlers.has(service)) throw new RpcError('GALAXY_RPC_SERVICE_TAKEN', `service "${service}" is served on this node already`);
    this.handlers.set(service, handler);
    if (options.networks === true) this.networkServices.add(service);
  }

  /** Whether a handler serves `service` on this node. */
  serves(service: string): boolean {
    return this.handlers.has(service);
  }

  /** Removes a service's handler (its component stopped); later requests for it get GALAXY_RPC_UNKNOWN_SERVICE. */
  unhandle(service: string): void {
    this.handlers.delete(service);
    this.networkServices.delete(service);
  }

  /**
   * Calls `service` on the node with id `to`; rejects with RpcError on error or after
   * timeoutMs. With a route, the request (and its resends) goes to route.address from the
   * extra network route.via, and the answer returns on that connection.
   */
  call(to: string, service: string, body: unknown, timeoutMs = 10_000, route?: Route): Promise<unknown> {
    if (this.closed) return Promise.reject(new RpcError('GALAXY_RPC_CLOSED', 'the farm node is stopping'));
    if (this.pending.size >= kRpcInFlightMax) return Promise.reject(new RpcError('GALAXY_RPC_BUSY', `${kRpcInFlightMax} requests already in flight`));
    const id = `${this.prefix.toString(16).padStart(8, '0')}${(this.sequence++ >>> 0).toString(16).padStart(8, '0')}`;
    const frame: RpcFrame = { kind: kKindRequest, status: 0, id, service, body: body ?? null };
    checkBodySize(frame);
    return new Promise((resolve, reject) => {
      const entry: Pending = { to, route, frame, deadlineMs: Date.now() + timeoutMs, resolve, reject, timer: null };
      this.pending.set(id, entry);
      this.counters.requestsSent++;
      this.transmit(id, entry, false);
    });
  }

  /** Handles a frame of the rpc channel from an authenticated sender. */
  receive(from: RpcSender, frame: RpcFrame): void {
    if (frame.kind === kKindResponse) this.settle(frame);
    else void this.answer(from, frame);
  }

  close(): void {
    this.closed = true;
    for (const [id, entry] of this.pending) {
      if (entry.timer !== null) clearTimeout(entry.timer);
      entry.reject(new RpcError('GALAXY_RPC_CLOSED', 'the farm node is stopping'));
      this.pending.delete(id);
    }
  }

  private transmit(id: string, entry: Pending, retry: boolean): void {
    if (retry) this.counters.retries++;
    if (entry.route !== undefined) this.counters.routed++;
    this.options.send(entry.to, entry.frame, entry.route);
    const retryMs = this.options.retryMs ?? 1000;
    const remainingMs = entry.deadlineMs - Date.now();
    entry.timer = setTimeout(
      () => {
        if (!this.pending.has(id)) return;
        if (Date.now() >= entry.deadlineMs) {
          this.pending.delete(id);
          this.counters.timeouts++;
          entry.reject(new RpcError('GALAXY_RPC_TIMEOUT', `no answer from ${entry.to}`));
          return;
        }
        this.transmit(id, entry, true);
      },
      Math.max(1, Math.min(retryMs, remainingMs)),
    );
  }

  private settle(frame: RpcFrame): void {
    const entry = this.pending.get(frame.id);
    if (entry === undefined) return; // a late duplicate answer
    this.pending.delete(frame.id);
    if (entry.timer !== null) clearTimeout(entry.timer);
    if (frame.status === 0) entry.resolve(frame.body);
    else {
      const error = (frame.body ?? {}) as { code?: string; message?: string };
      entry.reject(new RpcError(error.code ?? 'GALAXY_RPC_REMOTE', error.message ?? 'the remote handler failed'));
    }
  }

  private async answer(from: RpcSender, frame: RpcFrame): Promise<void> {
    // A request from an extra network is answered over that network's connection it came on.
    const back: Route | undefined = from.via === undefined ? undefined : { address: from.peer, via: from.via };
    if (back !== undefined) this.counters.routed++;
    if (from.via !== undefined && !this.networkServices.has(frame.service)) {
      this.counters.networkRefused++;
      this.options.send(from.id, { kind: kKindResponse, status: 1, id: frame.id, service: frame.service, body: { code: 'GALAXY_RPC_NETWORK_REFUSED', message: `service "${frame.service}" is not served on this node's network ${from.via}` } }, back);
      return;
    }
    const key = `${from.id}/${frame.id}`;
    const known = this.answers.get(key);
    if (known !== undefined) {
      this.counters.duplicates++;
      this.options.send(from.id, await known, back);
      return;
    }
    const handling = this.run(frame, from);
    this.remember(key, handling);
    const response = await handling;
    this.remember(key, response);
    this.options.send(from.id, response, back);
  }

  private async run(frame: RpcFrame, from: RpcSender): Promise<RpcFrame> {
    const respond = (status: number, body: unknown): RpcFrame => ({ kind: kKindResponse, status, id: frame.id, service: frame.service, body });
    const handler = this.handlers.get(frame.service);
    if (handler === undefined) {
      this.counters.unknownService++;
      return respond(1, { code: 'GALAXY_RPC_UNKNOWN_SERVICE', message: `no service "${frame.service}" on this node` });
    }
    try {
      const body = await handler(from, frame.body);
      this.counters.handled++;
      const response = respond(0, body ?? null);
      checkBodySize(response);
      return response;
    } catch (error) {
      const coded = error as { code?: string; message?: string };
      return respond(1, { code: coded.code ?? 'GALAXY_RPC_HANDLER', message: coded.message ?? String(error) });
    }
  }

  private remember(key: string, value: Promise<RpcFrame> | RpcFrame): void {
    this.answers.delete(key);
    this.answers.set(key, value);
    if (this.answers.size > kRpcAnswersRemembered) this.answers.delete(this.answers.keys().next().value!);
  }
}

function checkBodySize(frame: RpcFrame): void {
  const bytes = Buffer.byteLength(JSON.stringify(frame.body ?? null), 'utf8');
  if (bytes > kRpcBodyBytesMax) throw new RpcError('GALAXY_RPC_TOO_LARGE', `an RPC body of ${bytes} bytes exceeds ${kRpcBodyBytesMax}`);
}

/** The `rpc` channel's codec: the frame above; what does not parse is refused with a coded error. */
export const kRpcCodec: ChannelCodec<RpcFrame> = {
  encode(frame) {
    const json = Buffer.from(JSON.stringify(frame.body ?? null), 'utf8');
    if (json.length > kRpcBodyBytesMax) throw new RpcError('GALAXY_RPC_TOO_LARGE', `an RPC body of ${json.length} bytes exceeds ${kRpcBodyBytesMax}`);
    const serviceBytes = Buffer.from(frame.service, 'latin1');
    const out = Buffer.alloc(2 + 8 + 1 + serviceBytes.length + json.length);
    let at = 0;
    out[at++] = frame.kind;
    out[at++] = frame.status;
    out.write(frame.id, at, 'hex');
    at += 8;
    out[at++] = serviceBytes.length;
    serviceBytes.copy(out, at);
    at += serviceBytes.length;
    json.copy(out, at);
    return out;
  },
  decode(bytes) {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buffer.length < 11) throw new MessengerError('GALAXY_MESSENGER_DECODE', `an RPC frame has at least 11 bytes, got ${buffer.length}`);
    let at = 0;
    const kind = buffer[at++]!;
    const status = buffer[at++]!;
    if ((kind !== kKindRequest && kind !== kKindResponse) || status > 1) throw new MessengerError('GALAXY_MESSENGER_DECODE', `RPC kind ${kind} status ${status} is unknown`);
    const id = buffer.subarray(at, at + 8).toString('hex');
    at += 8;
    const serviceLength = buffer[at++]!;
    if (at + serviceLength > buffer.length) throw new MessengerError('GALAXY_MESSENGER_DECODE', 'the RPC service name runs past the frame');
    const service = buffer.subarray(at, at + serviceLength).toString('latin1');
    at += serviceLength;
    let body: unknown;
    try {
      body = JSON.parse(buffer.subarray(at).toString('utf8')) as unknown;
    } catch {
      throw new MessengerError('GALAXY_MESSENGER_DECODE', 'the RPC body is not JSON');
    }
    return { kind, status, id, service, body };
  },
};
