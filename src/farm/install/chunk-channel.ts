import { randomBytes } from 'node:crypto';
import { InstallError } from './install-error.js';
import { kChunkBodySchema, type ChunkRequest } from './install-rpc.js';
import { kChunkBytesMax, kChunkServesInFlightMax } from './package-limits.js';
import type { PackageStore } from './package-store.js';
import type { Route } from '../../node/messenger/messenger-channel.js';

/**
 * Package bytes between members: the messenger's `install-chunks` channel (streams,
 * sealed like all farm traffic, addressed by node id), beside FarmRpc rather than on it. FarmRpc
 * remembers every answer for exactly-once handling; a rollout of a 64 MiB package would
 * leave hundreds of megabytes of chunk answers in that memory. Reading a chunk is
 * idempotent, so this channel remembers nothing: a lost answer is a timeout, and the
 * fetcher asks again. The bytes travel raw, not as base64 in JSON.
 *
 * Frames (after the messenger's envelope):
 *
 *   request   u8 1, 8-byte id, then JSON {name, version, path, offset, length}
 *   answer    u8 2, 8-byte id, u8 status (0 bytes follow, 1 JSON {code, message} follows)
 *
 * A request's length is at most kChunkBytesMax, so an answer frame stays far inside a
 * stream frame (16 MiB). Answers go back to the authenticated sender of the request,
 * over the connection the request came on when it came on an extra network (a fetch the
 * lifecycle routed onto the admin network: request(..., route)).
 */
const kKindRequest = 1;
const kKindAnswer = 2;
const kIdBytes = 8;
const kHeaderBytes = 1 + kIdBytes;
/** JSON bytes of a request at most: names, a version and a path of bounded length. */
const kRequestJsonBytesMax = 1024;
/** Chunk requests this node has in flight at most; more are refused at once. */
export const kChunkRequestsInFlightMax = 64;

export interface ChunkChannelCounters {
  requestsSent: number;
  timeouts: number;
  chunksServed: number;
  chunkBytesServed: number;
  refusedBusy: number;
  malformed: number;
  lateAnswers: number;
}

export interface ChunkChannelOptions {
  /** Sends a frame to a node by id (the messenger's install-chunks channel); false when it was dropped. */
  readonly send: (to: string, frame: Uint8Array, route?: Route) => boolean | void;
  /** The store served to other members; absent: this node answers every request with GALAXY_PACKAGE_UNKNOWN. */
  readonly store?: PackageStore;
}

interface Pending {
  readonly resolve: (bytes: Buffer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  readonly length: number;
}

export class ChunkChannel {
  readonly counters: ChunkChannelCounters = { requestsSent: 0, timeouts: 0, chunksServed: 0, chunkBytesServed: 0, refusedBusy: 0, malformed: 0, lateAnswers: 0 };
  private readonly pending = new Map<string, Pending>();
  private serving = 0;
  private closed = false;

  constructor(private readonly options: ChunkChannelOptions) {}

  /** Asks the member with id `to` for a chunk (at route.address from the extra network route.via, when given); resolves with exactly `request.length` bytes. */
  request(to: string, request: ChunkRequest, timeoutMs: number, route?: Route): Promise<Buffer> {
    if (this.closed) return Promise.reject(new InstallError('GALAXY_INSTALL_CLOSED', 'the chunk channel is closed'));
    if (this.pending.size >= kChunkRequestsInFlightMax) return Promise.reject(new InstallError('GALAXY_INSTALL_BUSY', `${kChunkRequestsInFlightMax} chunk requests in flight already`));
    const id = randomBytes(kIdBytes);
    const key = id.toString('hex');
    const json = Buffer.from(JSON.stringify(request), 'utf8');
    const frame = Buffer.concat([Buffer.from([kKindRequest]), id, json]);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        this.counters.timeouts++;
        reject(new InstallError('GALAXY_INSTALL_TIMEOUT', `no chunk from ${to} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(key, { resolve, reject, timer, length: request.length });
      this.counters.requestsSent++;
      this.options.send(to, frame, route);
    });
  }

  /** Takes a frame of this channel from the node with id `from` (authenticated by the messenger); `back`: the route it came by when it came on an extra network. */
  receive(from: string, bytes: Uint8Array, back?: Route): void {
    if (bytes.length < kHeaderBytes) {
      this.counters.malformed++;
      return;
    }
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const id = buffer.subarray(1, kHeaderBytes);
    if (buffer[0] === kKindRequest) void this.answer(from, id, buffer.subarray(kHeaderBytes), back);
    else if (buffer[0] === kKindAnswer) this.settle(id.toString('hex'), buffer.subarray(kHeaderBytes));
    else this.counters.malformed++;
  }

  /** Rejects every request in flight; later requests are refused. */
  close(): void {
    this.closed = true;
    for (const [key, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new InstallError('GALAXY_INSTALL_CLOSED', 'the chunk channel is closed'));
      this.pending.delete(key);
    }
  }

  private settle(key: string, rest: Buffer): void {
    const pending = this.pending.get(key);
    if (pending === undefined) {
      this.counters.lateAnswers++;
      return;
    }
    this.pending.delete(key);
    clearTimeout(pending.timer);
    if (rest[0] === 0) {
      const data = rest.subarray(1);
      if (data.length !== pending.length) pending.reject(new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `a chunk of ${data.length} bytes where ${pending.length} were asked for`));
      // A copy: the message's buffer may be a view into a larger batch.
      else pending.resolve(Buffer.from(data));
      return;
    }
    let error: { code?: unknown; message?: unknown } = {};
    try {
      error = JSON.parse(rest.subarray(1).toString('utf8')) as typeof error;
    } catch {
      // A malformed error answer is still a refusal.
    }
    const code = typeof error.code === 'string' ? error.code : 'GALAXY_INSTALL_FETCH_FAILED';
    pending.reject(Object.assign(new Error(typeof error.message === 'string' ? error.message : 'the holder refused the chunk'), { code }));
  }

  private async answer(from: string, id: Buffer, json: Buffer, back: Route | undefined): Promise<void> {
    const reply = (status: number, payload: Buffer): void => void this.options.send(from, Buffer.concat([Buffer.from([kKindAnswer]), id, Buffer.from([status]), payload]), back);
    const refuse = (code: string, message: string): void => reply(1, Buffer.from(JSON.stringify({ code, message }), 'utf8'));
    const request = parseRequest(json);
    if (request === null) {
      this.counters.malformed++;
      return refuse('GALAXY_INSTALL_BAD_REQUEST', `a chunk request must be JSON {name, version, path, offset, length <= ${kChunkBytesMax}}`);
    }
    const store = this.options.store;
    if (store === undefined) return refuse('GALAXY_PACKAGE_UNKNOWN', 'this node serves no packages');
    if (this.serving >= kChunkServesInFlightMax) {
      this.counters.refusedBusy++;
      return refuse('GALAXY_INSTALL_BUSY', `this node serves ${kChunkServesInFlightMax} chunks already`);
    }
    this.serving++;
    try {
      const bytes = await store.readChunk(request.name, request.version, request.path, request.offset, request.length);
      this.counters.chunksServed++;
      this.counters.chunkBytesServed += bytes.length;
      reply(0, bytes);
    } catch (error) {
      const coded = error as { code?: unknown; message?: unknown };
      refuse(typeof coded.code === 'string' ? coded.code : 'GALAXY_INSTALL_FETCH_FAILED', typeof coded.message === 'string' ? coded.message : String(error));
    } finally {
      this.serving--;
    }
  }
}

function parseRequest(json: Buffer): ChunkRequest | null {
  if (json.length > kRequestJsonBytesMax) return null;
  try {
    const parsed = kChunkBodySchema.safeParse(JSON.parse(json.toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
