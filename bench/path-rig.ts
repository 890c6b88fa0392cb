/**
 * One agent's datagram receive path, assembled from the real pieces exactly as
 * workers/agent-worker.ts wires them (that file is being replaced by a NodeDriver, so the
 * twenty lines of wiring are repeated here rather than imported): a NativeTransport bound
 * on loopback, the farm Keyring, the MembershipEngine over its table in shared memory,
 * and the reply sealed and queued on the same socket.
 *
 * The bench does not wait for the kernel to deliver datagrams: it hands batches of sealed
 * datagrams to the very code the addon calls (NativeUdpSocket.receiveBatch over
 * batchReceiver: reused views of the receive slots, the batch announced first, the
 * replies flushed at its end; one source string per batch), so the figures
 * are the JavaScript, crypto, Wasm and sendmmsg cost of the path and not the scheduler's.
 * Replies really leave through sendmmsg to a sink socket on 127.0.0.1 that every member's
 * address points at; it drains between rounds.
 */
import { performance } from 'node:perf_hooks';
import { isAdmissionDatagram } from '../src/farm/admission/admission-wire.js';
import { isEnvelope } from '../src/core/messenger/envelope.js';
import { kLanConfig, type MembershipConfig } from '../src/core/membership/config.js';
import { MembershipEngine } from '../src/core/membership/membership-engine.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { type Runtime } from '../src/core/runtime/runtime.js';
import { NativeUdpSocket } from '../src/node/native/native-udp-socket.js';
import { Keyring } from '../src/node/security/keyring.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import { NativeTransport } from '../src/node/transport/native-transport.js';
import { Prng } from '../src/core/util/prng.js';
import { assembleParts } from '../src/core/wire/compound.js';
import * as F from '../src/core/wire/format.js';
import { parseWireAddress, type NodeId } from '../src/core/wire/message.js';
import { MessageParts } from '../src/core/membership/message-parts.js';

/** Distinct prepared datagrams per kind, cycled: enough that every batch mixes senders. */
export const kPreparedDatagrams = 512;
/** Datagrams per simulated recvmmsg batch (the addon's default recvBatch). */
export const kBatchDatagrams = 64;
const kMemoryBytes = 64 * 1024 * 1024;

export interface PathRigOptions {
  readonly members: number;
  readonly backend: 'wasm' | 'ts';
  /** Where every member lives (replies go there); a sink socket in this process when absent. */
  readonly memberAddress?: string;
  /** Makes the sealing under test over the farm key (today's Keyring, or a variant). */
  readonly sealer: (key: Uint8Array) => Sealer;
  /**
   * Opens each batch in one native call in the transport (NativeTransport.openBatchesWith
   * a Keyring over the farm key) instead of with the sealer datagram by datagram.
   */
  readonly batchOpen?: boolean;
}

/**
 * What the path needs of a keyring: open and seal one datagram. The result may be a view
 * that is only valid until the next call (the engine and the transport copy it).
 */
export interface Sealer {
  open(sealed: Uint8Array): Uint8Array | null;
  seal(plaintext: Uint8Array): Uint8Array | null;
}

/** A receive path with prepared sealed pings and acks, ready to be driven. */
export class PathRig {
  readonly engine: MembershipEngine;
  readonly runtime: Runtime;
  readonly transport: NativeTransport;
  private readonly sink: NativeUdpSocket;
  private readonly slotBytes: number;
  private readonly receiveSlots: Uint8Array;
  private readonly lengths = new Uint32Array(kBatchDatagrams);
  private readonly sources: string[];
  private readonly receiver: (count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]) => void;
  private readonly pings: Uint8Array[] = [];
  private readonly acks: Uint8Array[] = [];
  private readonly source: string;
  private next = 0;

  private constructor(engine: MembershipEngine, runtime: Runtime, transport: NativeTransport, sink: NativeUdpSocket) {
    this.engine = engine;
    this.runtime = runtime;
    this.transport = transport;
    this.sink = sink;
    this.source = sink.localAddress;
    this.sources = new Array<string>(kBatchDatagrams).fill(this.source);
    // The transport's own batch handler, as NativeTransport.open gives it to the addon,
    // run through the socket's batch handling (the replies leave in one sendmmsg per batch).
    const inner = transport as unknown as { receiveBatch(count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]): void; socket: NativeUdpSocket };
    this.slotBytes = inner.socket.config.slotBytes;
    this.receiveSlots = new Uint8Array(kBatchDatagrams * this.slotBytes);
    const receive = (count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]): void => inner.receiveBatch(count, buffer, lengths, sources);
    this.receiver = (count, buffer, lengths, sources) => inner.socket.receiveBatch(receive, count, buffer, lengths, sources);
  }

  static create(options: PathRigOptions): PathRig {
    const config: MembershipConfig = { ...kLanConfig };
    const runtime = createRuntime({ backend: options.backend, memoryBytes: kMemoryBytes });
    const sink = NativeUdpSocket.open({ host: '127.0.0.1', port: 0, socketBufferBytes: 4 << 20 }, { onMessage: () => {} });
    sink.unref();
    const table = MembershipTable.create(runtime, config.membersMax);
    const memberAddress = parseWireAddress(options.memberAddress ?? sink.localAddress);
    for (let i = 1; i < options.members; i++) table.upsert(memberId(i), memberAddress, 1, F.kStatusAlive, 0);
    const key = new Uint8Array(32).fill(7);
    const sealer = options.sealer(key);
    const open = NativeTransport.open('127.0.0.1:0');
    const engine = new MembershipEngine({
      config,
      runtime,
      table,
      id: { high: 0x5e1f, low: 0x0001 },
      address: parseWireAddress(open.address),
      environment: {
        nowMs: () => performance.now(),
        random: new Prng(14),
        sendDatagram: (to, bytes) => {
          const sealed = sealer.seal(bytes);
          if (sealed !== null) open.send(to, sealed);
        },
        sendFrame: () => {},
      },
    });
    engine.adoptTable();
    engine.start();
    // The worker's onMessage, as in workers/agent-worker.ts (secure farm, gossiping,
    // not suspended; nothing here is an application channel), with the clock read once
    // per batch (MembershipEngine.batchArrived).
    open.onBatch(() => engine.batchArrived());
    if (options.batchOpen === true) {
      // The transport opens each batch; admission datagrams come back unsealed and are ignored here.
      open.openBatchesWith(new Keyring([key]), () => {});
      open.onMessage((from, plaintext) => {
        if (plaintext.length === 0 || isEnvelope(plaintext)) return;
        engine.receiveInBatch(from, plaintext);
      });
    } else {
      open.onMessage((from, bytes) => {
        if (isAdmissionDatagram(bytes)) return;
        const plaintext = sealer.open(bytes);
        if (plaintext === null || plaintext.length === 0 || isEnvelope(plaintext)) return;
        engine.receiveInBatch(from, plaintext);
      });
    }
    const rig = new PathRig(engine, runtime, open, sink);
    rig.prepare(options.members, sealer, table);
    return rig;
  }

  /** Builds sealed one-entry heartbeat pings to this agent and acks, from varied members. */
  private prepare(members: number, sealer: Sealer, table: MembershipTable): void {
    const parts = new MessageParts(this.runtime, 64);
    const rowList = this.runtime.allocate(4, 8);
    const packet = this.runtime.allocate(F.kDatagramBytesMax + 64, 8);
    const self = this.engine.selfRow;
    const random = new Prng(1414);
    for (let i = 0; i < kPreparedDatagrams; i++) {
      const sender = table.find(memberId(1 + random.nextInt(members - 1)));
      this.runtime.views.i32[rowList >>> 2] = sender;
      const heartbeat = parts.digest(table, rowList, 1, F.kPushPullFlagGossip);
      const ping = parts.ping(1000 + i, table, self, sender);
      const ack = parts.ack(900_000 + i, table, sender);
      this.pings.push(sealOf(sealer, this.plain([ping, heartbeat], packet)));
      this.acks.push(sealOf(sealer, this.plain([ack, heartbeat], packet)));
    }
  }

  private plain(parts: Uint8Array[], packet: number): Uint8Array {
    const length = assembleParts(this.runtime, packet, parts, F.kDatagramBytesMax);
    if (length < 0) throw new Error(`assembling a bench datagram failed: ${length}`);
    return this.runtime.views.u8.slice(packet, packet + length);
  }

  /**
   * Delivers `count` datagrams of a kind in batches of kBatchDatagrams, as the addon's
   * onMessages callback does: the datagrams sit in one receive area, and each is handed
   * over as a view of its slot.
   */
  deliver(kind: 'ping' | 'ack', count: number): void {
    const prepared = kind === 'ping' ? this.pings : this.acks;
    for (let done = 0; done < count; ) {
      const batch = Math.min(kBatchDatagrams, count - done);
      for (let slot = 0; slot < batch; slot++) {
        const datagram = prepared[(this.next + slot) % kPreparedDatagrams]!;
        this.receiveSlots.set(datagram, slot * this.slotBytes);
        this.lengths[slot] = datagram.length;
      }
      // What the addon calls after a recvmmsg (src/node/native/native-udp-socket.ts).
      this.receiver(batch, this.receiveSlots, this.lengths, this.sources);
      this.next = (this.next + batch) % kPreparedDatagrams;
      done += batch;
    }
  }

  /** The prepared sealed pings (to hand to a sender in another process). */
  get preparedPings(): readonly Uint8Array[] {
    return this.pings;
  }

  /** The keyring's and engine's counters that show the datagrams really went through. */
  get datagramsSent(): number {
    return this.engine.stats.datagramsSent;
  }

  close(): void {
    void this.transport.close();
    this.sink.close();
  }
}

function memberId(i: number): NodeId {
  return { high: 0x1000 + (i >>> 16), low: (i * 2654435761) >>> 0 };
}

function sealOf(sealer: Sealer, plaintext: Uint8Array): Uint8Array {
  const sealed = sealer.seal(plaintext);
  if (sealed === null) throw new Error('sealing a bench datagram failed');
  return Uint8Array.from(sealed);
}
