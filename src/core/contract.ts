/**
 * The one contract every sans-I/O protocol core keeps, in the spirit of etcd raft's
 * Step / Tick / Ready / Advance. A core never touches a socket, a file, a timer, the
 * wall clock or Math.random: time comes in as `tick(nowMs)`, randomness as a seeded
 * Prng given at construction, messages as `step(input)`. What the core wants done
 * (send these bytes, deliver this message, install this view, persist this record)
 * comes out as a batch from `ready()`, in the order it must be acted on; the caller
 * acts on it and then calls `advance()`, which drops that batch.
 *
 * The same core is driven by the NodeDriver on real sockets and timers and by the
 * simulator on a simulated network, from one seed. Neither may call back into a core
 * while it is inside step or tick: drivers drain, act, then step again.
 */
export interface SansIoCore<Input, Output> {
  /** Takes one input (a message received, a command, evidence). Queues outputs; does no I/O. */
  step(input: Input): void;
  /** Advances the core's clock to nowMs (monotonic, never decreasing). Timers fire here. */
  tick(nowMs: number): void;
  /** The outputs queued since the last advance(), in the order to act on them. Does not clear them. */
  ready(): readonly Output[];
  /** Drops the batch ready() returned: the caller has acted on all of it. */
  advance(): void;
}

/**
 * A queue of outputs for a core: push while stepping, hand the array out from ready(),
 * clear it on advance(). It keeps one array so a steady state allocates nothing.
 */
export class OutputQueue<Output> {
  private items: Output[] = [];
  /** The most outputs one batch may hold; a core that would exceed it has a bug. */
  readonly lengthMax: number;

  constructor(lengthMax: number) {
    if (!Number.isInteger(lengthMax) || lengthMax < 1) throw new RangeError(`lengthMax must be a positive integer, got ${lengthMax}`);
    this.lengthMax = lengthMax;
  }

  push(output: Output): void {
    if (this.items.length >= this.lengthMax) throw new Error(`output batch over its bound of ${this.lengthMax}: the driver is not draining`);
    this.items.push(output);
  }

  get length(): number {
    return this.items.length;
  }

  ready(): readonly Output[] {
    return this.items;
  }

  advance(): void {
    this.items.length = 0;
  }
}
