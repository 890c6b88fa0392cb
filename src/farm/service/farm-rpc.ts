import type { AppMessage } from '../../node/driver/agent-worker-protocol.js';
import { CodedError } from '../../core/util/coded-error.js';

/**
 * Request/response between farm nodes over the agent's application channel, on TCP
 * streams (sealed like all farm traffic): the way one node's service asks another's
 * (post an event to a management node, start a process on a job's node). At-least-once
 * delivery with exactly-once handling: a request is resent with the same id until its
 * answer arrives or its deadline passes, and the receiver remembers recent answers by
 * id, so a resent request is answered again without being handled twice.
 *
 * Frame: u8 channel (0xF2), u8 kind (1 request, 2 response), u8 status (responses: 0 ok,
 * 1 error), 8-byte request id (hex in JS), u8 service length, service (ASCII), u16
 * sender id length, sender node id, then the JSON body (UTF-8).
 */
export const kChannelRpc = 0xf2;
const kKindRequest = 1;
const kKindResponse = 2;
/** A body larger than this is refused at the sender: bulk data goes over dedicated streams. */
export const kRpcBodyBytesMax = 4 * 1024 * 1024;
/** Answers remembered for duplicate requests. */
export const kRpcAnswersRemembered = 4096;
/** Requests in flight from this node at most. */
export const kRpcInFlightMax = 4096;

export class RpcError extends CodedError<string> {}

export type RpcHandler = (from: { id: string; peer: string }, body: unknown) => Promise<unknown> | unknown;

export interface FarmRpcOptions {
  readonly selfId: string;
  readonly send: (messages: AppMessage[]) => void;
  /** Resend interval of an unanswered request, ms. */
  readonly retryMs?: number;
}

interface Pending {
  readonly to: string;
  readonly frame: Uint8Array;
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
  malformed: number;
  unknownService: number;
}

export class FarmRpc {
  readonly counters: RpcCounters = { requestsSent: 0, retries: 0, timeouts: 0, handled: 0, duplicates: 0, malformed: 0, unknownService: 0 };
  private readonly handlers = new Map<string, RpcHandler>();
  private readonly pending = new Map<string, Pending>();
  /** Answers by "sender/id": a Promise while being handled (a duplicate then waits for it), the frame after. */
  private readonly answers = new Map<string, Promise<Uint8Array> | Uint8Array>();
  private sequence = 0;
  private readonly prefix = Math.floor(Math.random() * 0xffffffff);
  private closed = false;

  constructor(private readonly options: FarmRpcOptions) {}

  /**
   * Registers the handler of a service ("events.post", "jobs.start", ...). A name that
   * is taken already is refused (RpcError GALAXY_RPC_SERVICE_TAKEN), never replaced: a
   * second registration is either a bug or a component trying to take over a service
   * of the farm (install.apply), and either way the first owner keeps it. An owner that
   * means to replace its handler calls unhandle first.
   */
  handle(service: string, handler: RpcHandler): void {
    if (!/^[a-z][a-z0-9.-]{0,63}$/.test(service)) throw new RangeError(`service name "${service}" must be 1 to 64 of a-z 0-9 . - starting with a letter`);
    if (this.handlers.has(service)) throw new RpcError('GALAXY_RPC_SERVICE_TAKEN', `service "${service}" is served on this node already`);
    this.handlers.set(service, handler);
  }

  /** Whether a handler serves `service` on this node. */
  serves(service: string): boolean {
    return this.handlers.has(service);
  }

  /** Removes a service's handler (its component stopped); later requests for it get GALAXY_RPC_UNKNOWN_SERVICE. */
  unhandle(service: string): void {
    this.handlers.delete(service);
  }

  /** Calls `service` on the node at `to` (its gossip address); rejects with RpcError on error or after timeoutMs. */
  call(to: string, service: string, body: unknown, timeoutMs = 10_000): Promise<unknown> {
    if (this.closed) return Promise.reject(new RpcError('GALAXY_RPC_CLOSED', 'the farm node is stopping'));
    if (this.pending.size >= kRpcInFlightMax) return Promise.reject(new RpcError('GALAXY_RPC_BUSY', `${kRpcInFlightMax} requests already in flight`));
    const id = `${this.prefix.toString(16).padStart(8, '0')}${(this.sequence++ >>> 0).toString(16).padStart(8, '0')}`;
    const frame = encodeFrame(kKindRequest, 0, id, service, this.options.selfId, body);
    return new Promise((resolve, reject) => {
      const entry: Pending = { to, frame, deadlineMs: Date.now() + timeoutMs, resolve, reject, timer: null };
      this.pending.set(id, entry);
      this.counters.requestsSent++;
      this.transmit(id, entry, false);
    });
  }

  /** Handles an application message of the RPC channel; returns false for other channels. */
  receive(message: AppMessage): boolean {
    if (message.bytes[0] !== kChannelRpc) return false;
    const frame = decodeFrame(message.bytes);
    if (frame === null) {
      this.counters.malformed++;
      return true;
    }
    if (frame.kind === kKindResponse) this.settle(frame);
    else void this.answer(message.peer, frame);
    return true;
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
    this.options.send([{ peer: entry.to, bytes: entry.frame, stream: true }]);
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

  private settle(frame: DecodedFrame): void {
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

  private async answer(peer: string, frame: DecodedFrame): Promise<void> {
    const key = `${frame.sender}/${frame.id}`;
    const known = this.answers.get(key);
    if (known !== undefined) {
      this.counters.duplicates++;
      const bytes = await known;
      this.options.send([{ peer, bytes, stream: true }]);
      return;
    }
    const handling = this.run(frame, peer);
    this.remember(key, handling);
    const bytes = await handling;
    this.remember(key, bytes);
    this.options.send([{ peer, bytes, stream: true }]);
  }

  private async run(frame: DecodedFrame, peer: string): Promise<Uint8Array> {
    const handler = this.handlers.get(frame.service);
    if (handler === undefined) {
      this.counters.unknownService++;
      return encodeFrame(kKindResponse, 1, frame.id, frame.service, this.options.selfId, { code: 'GALAXY_RPC_UNKNOWN_SERVICE', message: `no service "${frame.service}" on this node` });
    }
    try {
      const body = await handler({ id: frame.sender, peer }, frame.body);
      this.counters.handled++;
      return encodeFrame(kKindResponse, 0, frame.id, frame.service, this.options.selfId, body ?? null);
    } catch (error) {
      const coded = error as { code?: string; message?: string };
      return encodeFrame(kKindResponse, 1, frame.id, frame.service, this.options.selfId, { code: coded.code ?? 'GALAXY_RPC_HANDLER', message: coded.message ?? String(error) });
    }
  }

  private remember(key: string, value: Promise<Uint8Array> | Uint8Array): void {
    this.answers.delete(key);
    this.answers.set(key, value);
    if (this.answers.size > kRpcAnswersRemembered) this.answers.delete(this.answers.keys().next().value!);
  }
}

interface DecodedFrame {
  readonly kind: number;
  readonly status: number;
  readonly id: string;
  readonly service: string;
  readonly sender: string;
  readonly body: unknown;
}

function encodeFrame(kind: number, status: number, id: string, service: string, sender: string, body: unknown): Uint8Array {
  const json = Buffer.from(JSON.stringify(body ?? null), 'utf8');
  if (json.length > kRpcBodyBytesMax) throw new RpcError('GALAXY_RPC_TOO_LARGE', `an RPC body of ${json.length} bytes exceeds ${kRpcBodyBytesMax}`);
  const serviceBytes = Buffer.from(service, 'latin1');
  const senderBytes = Buffer.from(sender, 'latin1');
  const out = Buffer.alloc(3 + 8 + 1 + serviceBytes.length + 2 + senderBytes.length + json.length);
  let at = 0;
  out[at++] = kChannelRpc;
  out[at++] = kind;
  out[at++] = status;
  out.write(id, at, 'hex');
  at += 8;
  out[at++] = serviceBytes.length;
  serviceBytes.copy(out, at);
  at += serviceBytes.length;
  out.writeUInt16LE(senderBytes.length, at);
  at += 2;
  senderBytes.copy(out, at);
  at += senderBytes.length;
  json.copy(out, at);
  return out;
}

function decodeFrame(bytes: Uint8Array): DecodedFrame | null {
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 1;
    const kind = buffer[at++]!;
    const status = buffer[at++]!;
    if ((kind !== kKindRequest && kind !== kKindResponse) || status > 1 || buffer.length < 12) return null;
    const id = buffer.subarray(at, at + 8).toString('hex');
    at += 8;
    const serviceLength = buffer[at++]!;
    const service = buffer.subarray(at, at + serviceLength).toString('latin1');
    at += serviceLength;
    const senderLength = buffer.readUInt16LE(at);
    at += 2;
    if (senderLength > 64) return null;
    const sender = buffer.subarray(at, at + senderLength).toString('latin1');
    at += senderLength;
    if (at > buffer.length) return null;
    const body = JSON.parse(buffer.subarray(at).toString('utf8')) as unknown;
    return { kind, status, id, service, sender, body };
  } catch {
    return null;
  }
}
