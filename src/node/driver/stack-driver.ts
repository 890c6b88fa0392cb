import { performance } from 'node:perf_hooks';
import type { NodeStack, StackCommand, StackEvent, StackInput } from '../../core/stack/node-stack.js';
import { Keyring } from '../security/keyring.js';
import type { DatagramTransport } from '../transport/datagram-transport.js';
import type { DgramTransportOptions } from '../transport/dgram-transport.js';
import type { TransportChoice } from '../transport/select-transport.js';
import type { StreamTransport, StreamTransportOptions } from '../transport/stream-transport.js';
import { openNodeTransports } from './open-node-transports.js';

export interface StackDriverOptions {
  /** "ip:port" to bind UDP and TCP on; port 0 lets the OS choose. */
  readonly bind: string;
  /** Makes the stack once the address is bound (the stack is named by it). nowMs is the driver's monotonic clock. */
  readonly makeStack: (address: string, nowMs: number) => NodeStack;
  readonly tickIntervalMs: number;
  /** The farm keyring, primary first: every datagram and frame is sealed with it, and what it does not open is dropped. Absent: an open lab farm. */
  readonly keys?: readonly string[];
  readonly transport?: TransportChoice;
  readonly datagram?: DgramTransportOptions;
  readonly stream?: StreamTransportOptions;
  /** The stack's events, in order, after each step or tick. It must not call back into the driver synchronously. */
  readonly onEvent?: (event: StackEvent) => void;
}

export interface StackDriverCounters {
  /** Datagrams and frames the keyring did not open (forged, corrupt, or sealed with a key we lack). */
  unauthenticatedDropped: number;
  sent: number;
  received: number;
}

/**
 * Runs a NodeStack (src/core/stack/node-stack.ts) on real sockets and timers: the
 * driver half of the contract. It feeds the stack what the UDP socket and the TCP
 * listener receive (opened with the farm keyring when there is one) and the
 * transports' failure evidence, ticks it every tickIntervalMs with the monotonic clock
 * (reporting the timer's lag first, as the agent does), and after every step or tick
 * acts on the stack's ready() batch in order (seal and send, hand events up) and then
 * calls advance(). The simulator plays the same role over the simulated network
 * (src/sim/simulated-stack-farm.ts), so the node that runs here is the node tested there.
 *
 * The agent's worker does not run this: it runs NodeDriver (node-driver.ts), which
 * drives the same NodeStack (membership, messenger envelopes, FMIDB; no jobs, which the
 * agent runs on its main thread) with what the agent needs on top: membership sending
 * straight from the engine, a wake-up at the next deadline instead of a fixed interval,
 * admission and the messenger's other channels handed up, the FMIDB operated from the
 * main thread. This driver stays as the plain one — every output batched, every core
 * ticked on one interval, job coordination on — for the whole-stack real-socket test
 * (test/stack-driver.test.ts); folding it into NodeDriver would put the agent's worker
 * protocol in front of that test for nothing.
 */
export class StackDriver {
  readonly stack: NodeStack;
  readonly address: string;
  readonly counters: StackDriverCounters = { unauthenticatedDropped: 0, sent: 0, received: 0 };
  private readonly datagram: DatagramTransport;
  private readonly streams: StreamTransport;
  private readonly keyring: Keyring | null;
  private readonly onEvent: (event: StackEvent) => void;
  private readonly timer: NodeJS.Timeout;
  private readonly tickIntervalMs: number;
  private lastTickMs: number;
  private stopped = false;

  private constructor(options: StackDriverOptions, datagram: DatagramTransport, stream: StreamTransport) {
    this.datagram = datagram;
    this.streams = stream;
    this.address = datagram.address;
    this.keyring = options.keys !== undefined && options.keys.length > 0 ? new Keyring(options.keys) : null;
    this.onEvent = options.onEvent ?? (() => undefined);
    this.tickIntervalMs = options.tickIntervalMs;
    this.lastTickMs = performance.now();
    this.stack = options.makeStack(this.address, this.lastTickMs);
    datagram.onMessage((from, bytes) => this.received(from, bytes, false));
    stream.onFrame((from, bytes) => this.received(from, bytes, true));
    datagram.onUnreachable((to) => this.input({ type: 'unreachable', to }));
    stream.onFailed((to) => this.input({ type: 'stream-failed', to }));
    this.timer = setInterval(() => this.tick(), options.tickIntervalMs);
    this.input({ type: 'command', command: { type: 'start' } });
  }

  /** Binds the sockets, makes the stack and starts it (it joins through its seeds). */
  static async start(options: StackDriverOptions): Promise<StackDriver> {
    if (!Number.isInteger(options.tickIntervalMs) || options.tickIntervalMs < 1) throw new RangeError(`tickIntervalMs must be a positive integer, got ${options.tickIntervalMs}`);
    const { datagram, stream } = await openNodeTransports(options.bind, options.transport ?? 'auto', options.datagram, options.stream);
    try {
      return new StackDriver(options, datagram, stream);
    } catch (error) {
      await Promise.all([datagram.close(), stream.close()]);
      throw error;
    }
  }

  /** A command to the stack (a write, a job, an exited process). */
  command(command: StackCommand): void {
    this.input({ type: 'command', command });
  }

  /** Leaves gracefully (ticking for flushMs so the leave spreads), then closes the sockets. */
  async stop(flushMs = 0): Promise<void> {
    if (this.stopped) return;
    this.input({ type: 'command', command: { type: 'leave' } });
    if (flushMs > 0) await new Promise((resolve) => setTimeout(resolve, flushMs));
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([this.datagram.close(), this.streams.close()]);
  }

  private received(from: string, bytes: Uint8Array, stream: boolean): void {
    let plaintext: Uint8Array | null = bytes;
    if (this.keyring !== null) {
      // A view into the keyring's reused buffer: the stack's cores copy what they keep.
      plaintext = this.keyring.openView(bytes);
      if (plaintext === null) {
        this.counters.unauthenticatedDropped++;
        return;
      }
    }
    this.counters.received++;
    this.input(stream ? { type: 'frame', from, bytes: plaintext } : { type: 'datagram', from, bytes: plaintext });
  }

  private input(input: StackInput): void {
    if (this.stopped) return;
    this.stack.step(input);
    this.act();
  }

  private tick(): void {
    const now = performance.now();
    const lagMs = Math.max(0, now - this.lastTickMs - this.tickIntervalMs);
    this.lastTickMs = now;
    this.stack.step({ type: 'command', command: { type: 'lag', lagMs } });
    this.stack.tick(now);
    this.act();
  }

  /** Acts on the stack's batch in order, then drops it. */
  private act(): void {
    const out = this.stack.ready();
    for (const o of out) {
      if (o.type === 'event') {
        this.onEvent(o.event);
        continue;
      }
      this.counters.sent++;
      if (o.type === 'datagram') {
        // Sealed into the keyring's reused buffer: the transport copies before send() returns.
        const bytes = this.keyring === null ? o.bytes : this.keyring.sealView(o.bytes);
        this.datagram.send(o.to, bytes);
      } else {
        this.streams.send(o.to, this.keyring === null ? o.bytes : this.keyring.seal(o.bytes));
      }
    }
    this.stack.advance();
  }
}
