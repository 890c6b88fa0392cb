import type { MembershipTable } from '../table/membership-table.js';
import * as F from '../wire/format.js';
import { formatWireAddress, parseWireAddress, type WireAddress } from '../wire/message.js';

/** Texts parsed and remembered for rowOf/scan (ICMP peers, seeds): few distinct ones in practice. */
const kParsedEntriesMax = 1024;
/** Open-addressing slots per table row: at most half full, so probe runs stay short. */
const kSlotsPerRow = 2;
/** Rebuild when used plus deleted slots pass this fraction of the slots. */
const kSlotsFullFraction = 0.75;
const kEmptySlot = 0;
const kDeletedSlot = -1;

/**
 * Address text to table row, for the evidence that arrives as an address (an ICMP
 * unreachable): which member is that? The engine used to format every row's address
 * and compare strings on each report (2.1 ms at 10,000 members); this index answers from
 * an open-addressing hash of the rows' addresses, in typed arrays (no object per member:
 * a simulator runs thousands of engines), built on the first question.
 *
 * Answers are exactly those of the scan it replaces: the lowest non-empty row, other
 * than the excluded one (the local node), whose formatted address equals the text. The
 * owner keeps the index true by calling refresh(row) whenever a row is inserted, changes
 * address or is removed (the engine does it in settle() and reap(), through which every
 * such change passes) and rebuild() when it adopts a filled table. scan() answers the
 * same question without the index, for rare questions (seeds).
 *
 * It also formats addresses found in messages (textOf), caching IPv4 texts up to a bound
 * given by the owner, so a ping's reply-to is not formatted again for every ping.
 */
export class AddressIndex {
  private readonly table: MembershipTable;
  /** row + 1 per used slot; kEmptySlot, kDeletedSlot otherwise. Null until first needed. */
  private slots: Int32Array | null = null;
  /** The hash each row is filed under, valid where filed[row] is 1. */
  private hashOfRow: Uint32Array | null = null;
  private filed: Uint8Array | null = null;
  private slotsTaken = 0;
  /** Text to parsed address (null: parses, but no row formats that way; undefined: no address). */
  private readonly parsed = new Map<string, WireAddress | null | undefined>();
  /**
   * IPv4 texts by port, then by the address as an int32. Two levels because both keys
   * are then small integers (Smis): one number made of both would not be, and V8 would
   * allocate it on every lookup.
   */
  private readonly texts = new Map<number, Map<number, string>>();
  private textsCount = 0;
  private readonly textsMax: number;

  /** `textsMax`: IPv4 texts textOf keeps (0 keeps none); the cache empties when full. */
  constructor(table: MembershipTable, textsMax: number) {
    this.table = table;
    this.textsMax = textsMax;
  }

  /** Files every row again (for a table filled by someone else); builds only if built before. */
  rebuild(): void {
    if (this.slots === null) return;
    this.build();
  }

  /** Re-files one row after it was inserted, readdressed or removed. */
  refresh(row: number): void {
    if (this.slots === null) return;
    const filed = this.filed!;
    const table = this.table;
    const wanted = table.status[row] !== F.kStatusEmpty;
    const hash = wanted ? rowHash(table, row) : 0;
    if (filed[row] === 1) {
      // Same hash: the slot still leads to the row, and lookups compare addresses.
      if (wanted && this.hashOfRow![row] === hash) return;
      this.unfile(row);
    }
    if (wanted) this.file(row, hash);
  }

  /** The lowest row other than `exceptRow` whose address formats as `text`; -1 when none. */
  rowOf(text: string, exceptRow: number): number {
    const address = this.parse(text);
    if (address === undefined) return this.scanNoAddress(text, exceptRow);
    if (address === null) return -1;
    if (this.slots === null) this.build();
    const slots = this.slots!;
    const mask = slots.length - 1;
    let best = -1;
    for (let i = addressHash(address.family, address.bytes, 0, address.port) & mask; slots[i] !== kEmptySlot; i = (i + 1) & mask) {
      const row = slots[i]! - 1;
      if (row < 0 || row === exceptRow || (best >= 0 && row > best)) continue;
      if (this.table.status[row] !== F.kStatusEmpty && sameAddress(this.table, row, address)) best = row;
    }
    return best;
  }

  /** rowOf without the index: one pass over the table comparing bytes (for rare questions). */
  scan(text: string, exceptRow: number): number {
    const address = this.parse(text);
    if (address === undefined) return this.scanNoAddress(text, exceptRow);
    if (address === null) return -1;
    const table = this.table;
    for (let row = 0; row < table.rowCount; row++) {
      if (row !== exceptRow && table.status[row] !== F.kStatusEmpty && sameAddress(table, row, address)) return row;
    }
    return -1;
  }

  /**
   * The text of an address stored at `bytes[at..]` (family, 16 address bytes, port), as
   * formatWireAddress gives it.
   */
  textOf(family: number, bytes: Uint8Array, at: number, port: number): string {
    if (family !== 4 || this.textsMax === 0) return formatWireAddress({ family: family as 0 | 4 | 6, bytes: bytes.subarray(at, at + 16), port });
    const key = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
    let byAddress = this.texts.get(port);
    let text = byAddress?.get(key);
    if (text !== undefined) return text;
    text = formatWireAddress({ family: 4, bytes: bytes.subarray(at, at + 4), port });
    if (this.textsCount >= this.textsMax) {
      this.texts.clear();
      this.textsCount = 0;
      byAddress = undefined;
    }
    if (byAddress === undefined) this.texts.set(port, (byAddress = new Map()));
    byAddress.set(key, text);
    this.textsCount++;
    return text;
  }

  private build(): void {
    const capacity = this.table.capacity;
    let size = 1;
    while (size < kSlotsPerRow * capacity) size <<= 1;
    if (this.slots === null || this.slots.length !== size) this.slots = new Int32Array(size);
    else this.slots.fill(kEmptySlot);
    this.hashOfRow ??= new Uint32Array(capacity);
    if (this.filed === null) this.filed = new Uint8Array(capacity);
    else this.filed.fill(0);
    this.slotsTaken = 0;
    const rows = this.table.rowCount;
    for (let row = 0; row < rows; row++) if (this.table.status[row] !== F.kStatusEmpty) this.file(row, rowHash(this.table, row));
  }

  private file(row: number, hash: number): void {
    const slots = this.slots!;
    if (this.slotsTaken + 1 > kSlotsFullFraction * slots.length) {
      // Deleted slots pile up under churn: file everything afresh (this row included).
      this.build();
      return;
    }
    const mask = slots.length - 1;
    let i = hash & mask;
    while (slots[i] !== kEmptySlot && slots[i] !== kDeletedSlot) i = (i + 1) & mask;
    if (slots[i] === kEmptySlot) this.slotsTaken++;
    slots[i] = row + 1;
    this.hashOfRow![row] = hash;
    this.filed![row] = 1;
  }

  private unfile(row: number): void {
    const slots = this.slots!;
    const mask = slots.length - 1;
    for (let i = this.hashOfRow![row]! & mask; slots[i] !== kEmptySlot; i = (i + 1) & mask) {
      if (slots[i] === row + 1) {
        slots[i] = kDeletedSlot;
        break;
      }
    }
    this.filed![row] = 0;
  }

  /** The parsed form of a text, remembered (a bounded map, emptied when full). */
  private parse(text: string): WireAddress | null | undefined {
    if (this.parsed.has(text)) return this.parsed.get(text);
    let address: WireAddress | null | undefined;
    try {
      const candidate = parseWireAddress(text);
      address = formatWireAddress(candidate) === text ? candidate : null;
    } catch {
      address = undefined;
    }
    if (this.parsed.size >= kParsedEntriesMax) this.parsed.clear();
    this.parsed.set(text, address);
    return address;
  }

  /** Text that is no address: only '-' names something (a row without an address); rare, so scanned. */
  private scanNoAddress(text: string, exceptRow: number): number {
    if (text !== '-') return -1;
    const table = this.table;
    for (let row = 0; row < table.rowCount; row++) {
      if (table.status[row] === F.kStatusEmpty || row === exceptRow) continue;
      const family = table.family[row]!;
      if (family !== 4 && family !== 6) return row;
    }
    return -1;
  }
}

/** A 32-bit hash of family, address bytes (4 for IPv4, 16 for IPv6) and port. */
function addressHash(family: number, bytes: Uint8Array, at: number, port: number): number {
  const length = family === 4 ? 4 : family === 6 ? 16 : 0;
  let hash = Math.imul(0x811c9dc5 ^ family, 0x01000193);
  for (let i = 0; i < length; i++) hash = Math.imul(hash ^ bytes[at + i]!, 0x01000193);
  hash = Math.imul(hash ^ (port & 0xff), 0x01000193);
  hash = Math.imul(hash ^ (port >>> 8), 0x01000193);
  // A final mix so that the low bits (the slot) depend on every byte.
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  hash ^= hash >>> 12;
  return hash >>> 0;
}

function rowHash(table: MembershipTable, row: number): number {
  return addressHash(table.family[row]!, table.address, row * 16, table.port[row]!);
}

function sameAddress(table: MembershipTable, row: number, address: WireAddress): boolean {
  if (table.family[row] !== address.family || table.port[row] !== address.port) return false;
  const length = address.family === 4 ? 4 : 16;
  const at = row * 16;
  for (let i = 0; i < length; i++) if (table.address[at + i] !== address.bytes[i]) return false;
  return true;
}
