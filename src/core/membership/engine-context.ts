import type { Runtime } from '../runtime/runtime.js';
import type { MembershipTable } from '../table/membership-table.js';
import * as F from '../wire/format.js';
import { formatWireAddress, type NodeId } from '../wire/message.js';
import { AddressIndex } from './address-index.js';
import type { AntiEntropy } from './anti-entropy.js';
import type { MembershipConfig } from './config.js';
import type { Dissemination } from './dissemination.js';
import type { EngineEnvironment } from './engine-environment.js';
import type { EngineScratch } from './engine-scratch.js';
import type { EngineStats } from './engine-stats.js';
import type { MemberState } from './member-state.js';
import type { MessageParts } from './message-parts.js';
import type { Prober } from './prober.js';
import type { Watcher } from './watcher.js';

/**
 * What the four parts of the membership engine share: the table, the environment, the
 * engine's clock and leaving flag, the helpers every part uses, and a reference to
 * each part, because the protocol's seams call across (a failed probe raises a
 * suspicion, a suspicion is gossiped, a merge may make this node refute). The engine
 * makes one context and its four parts, and wires them together once.
 */
export class EngineContext {
  readonly config: MembershipConfig;
  readonly runtime: Runtime;
  readonly env: EngineEnvironment;
  readonly scratch: EngineScratch;
  readonly parts: MessageParts;
  readonly table: MembershipTable;
  readonly stats: EngineStats;
  readonly selfId: NodeId;
  readonly selfAddress: string;
  selfRow = -1;
  /** The engine's time, read from the environment at the start of every call. */
  now = 0;
  /** Set by leave(): from then on the engine answers nothing and starts no probe. */
  leaving = false;
  /** Address text to row, built on the first ICMP report; also caches reply-to address texts. */
  readonly addressIndex: AddressIndex;
  state!: MemberState;
  prober!: Prober;
  dissemination!: Dissemination;
  antiEntropy!: AntiEntropy;
  watcher!: Watcher;

  constructor(options: { config: MembershipConfig; runtime: Runtime; env: EngineEnvironment; scratch: EngineScratch; table: MembershipTable; stats: EngineStats; selfId: NodeId; selfAddress: string; addressTextsMax: number }) {
    this.config = options.config;
    this.runtime = options.runtime;
    this.env = options.env;
    this.scratch = options.scratch;
    this.parts = options.scratch.parts;
    this.table = options.table;
    this.stats = options.stats;
    this.selfId = options.selfId;
    this.selfAddress = options.selfAddress;
    this.addressIndex = new AddressIndex(this.table, options.addressTextsMax);
  }

  get incarnation(): number {
    return this.table.incarnation[this.selfRow]!;
  }

  addressOf(row: number): string {
    return formatWireAddress({ family: this.table.family[row]! as 0 | 4 | 6, bytes: this.table.address.subarray(row * 16, row * 16 + 16), port: this.table.port[row]! });
  }

  /** Up to `count` distinct random rows satisfying `accept`, never this node. */
  randomMembers(count: number, accept: (row: number) => boolean): number[] {
    const rows = this.table.rowCount;
    const out: number[] = [];
    if (rows <= 1 || count <= 0) return out;
    const random = this.env.random;
    if (rows <= 64) {
      const candidates: number[] = [];
      for (let row = 0; row < rows; row++) if (row !== this.selfRow && accept(row)) candidates.push(row);
      random.shuffle(candidates);
      return candidates.slice(0, count);
    }
    for (let attempt = 0; attempt < count * 8 && out.length < count; attempt++) {
      const row = random.nextInt(rows);
      if (row !== this.selfRow && !out.includes(row) && accept(row)) out.push(row);
    }
    return out;
  }

  rowOfAddress(address: string): number {
    return this.addressIndex.rowOf(address, this.selfRow);
  }

  isSelf(high: number, low: number): boolean {
    return high === this.selfId.high >>> 0 && low === this.selfId.low >>> 0;
  }

  tapeAddress(family: number, bytes: number, port: number): string {
    const { u8, dv } = this.runtime.views;
    return this.addressIndex.textOf(u8[family]!, u8, bytes, dv.getUint16(port, true));
  }

  key(row: number): string {
    return `n${this.table.idHigh[row]}:${this.table.idLow[row]}`;
  }
}
