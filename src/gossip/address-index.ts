import type { MembershipTable } from '../table/membership-table.js';
import * as F from '../wire/format.js';
import { formatWireAddress, parseWireAddress, type WireAddress } from '../wire/message.js';

/**
 * Address text to table row, for the evidence that arrives as an address (an ICMP
 * unreachable, a seed): which member is that? The engine used to format every row's
 * address and compare strings on each report (2.1 ms at 10,000 members); this index
 * answers from a map of numeric address keys to the rows holding that address.
 *
 * Answers are exactly those of the scan it replaces: the lowest non-empty row, other
 * than the excluded one (the local node), whose formatted address equals the text. The
 * owner keeps the index true by calling refresh(row) whenever a row is inserted, changes
 * address or is removed (the engine does it in settle() and reap(), through which every
 * such change passes) and rebuild() when it adopts a filled table.
 *
 * It also formats addresses found in messages (textOf), caching the IPv4 ones.
 *
 * Keys: IPv4 is exact (address·65536 + port); IPv6 is a hash, so rows are always checked
 * against the address before they are returned.
 */
export class AddressIndex {
  private readonly table: MembershipTable;
  /** IPv4 address key to its text, for the addresses messages carry (a ping's reply-to); cleared when full. */
  private readonly texts = new Map<number, string>();
  /** Rows per address key, ascending; a key's list is usually one row long. */
  private readonly rows = new Map<number, number[]>();
  /** The key each row is filed under, NaN for none. */
  private readonly keyOfRow: Float64Array;
  /** Text to parsed address, for the texts asked about (null: not a canonical address). */
  private readonly parsed = new Map<string, WireAddress | null>();
  private readonly parsedEntriesMax: number;

  constructor(table: MembershipTable, parsedEntriesMax = 16_384) {
    this.table = table;
    this.keyOfRow = new Float64Array(table.capacity).fill(Number.NaN);
    this.parsedEntriesMax = parsedEntriesMax;
  }

  /** Files every row again (for a table filled by someone else). */
  rebuild(): void {
    this.rows.clear();
    this.keyOfRow.fill(Number.NaN);
    for (let row = 0; row < this.table.rowCount; row++) this.refresh(row);
  }

  /** Re-files one row after it was inserted, readdressed or removed. */
  refresh(row: number): void {
    const key = this.table.status[row] === F.kStatusEmpty ? Number.NaN : rowKey(this.table, row);
    const old = this.keyOfRow[row]!;
    if (key === old || (Number.isNaN(key) && Number.isNaN(old))) return;
    if (!Number.isNaN(old)) {
      const list = this.rows.get(old)!;
      list.splice(list.indexOf(row), 1);
      if (list.length === 0) this.rows.delete(old);
    }
    this.keyOfRow[row] = key;
    if (Number.isNaN(key)) return;
    const list = this.rows.get(key);
    if (list === undefined) {
      this.rows.set(key, [row]);
      return;
    }
    let at = list.length;
    while (at > 0 && list[at - 1]! > row) at--;
    list.splice(at, 0, row);
  }

  /** The lowest row other than `exceptRow` whose address formats as `text`; -1 when none. */
  rowOf(text: string, exceptRow: number): number {
    const address = this.parse(text);
    if (address === undefined) return this.scan(text, exceptRow);
    if (address === null) return -1;
    const list = this.rows.get(addressKey(address.family, address.bytes, 0, address.port));
    if (list === undefined) return -1;
    for (const row of list) if (row !== exceptRow && sameAddress(this.table, row, address)) return row;
    return -1;
  }

  /**
   * The text of an address stored at `bytes[at..]` (family, 16 address bytes, port), as
   * formatWireAddress gives it; IPv4 texts are cached, so a ping's reply-to address is
   * not formatted again for every ping from the same member.
   */
  textOf(family: number, bytes: Uint8Array, at: number, port: number): string {
    if (family !== 4) return formatWireAddress({ family: family as 0 | 4 | 6, bytes: bytes.subarray(at, at + 16), port });
    const key = addressKey(4, bytes, at, port);
    let text = this.texts.get(key);
    if (text === undefined) {
      text = formatWireAddress({ family: 4, bytes: bytes.subarray(at, at + 4), port });
      if (this.texts.size >= this.parsedEntriesMax) this.texts.clear();
      this.texts.set(key, text);
    }
    return text;
  }

  /**
   * The parsed form of a text, cached; null for text that parses but is not in canonical
   * form (no row formats that way), undefined for text that is no address at all.
   */
  private parse(text: string): WireAddress | null | undefined {
    let address = this.parsed.get(text);
    if (address !== undefined) return address;
    try {
      const candidate = parseWireAddress(text);
      address = formatWireAddress(candidate) === text ? candidate : null;
    } catch {
      return undefined;
    }
    if (this.parsed.size >= this.parsedEntriesMax) this.parsed.clear();
    this.parsed.set(text, address);
    return address;
  }

  /** Text that is no address: only '-' names something (a row without an address); rare, so scanned. */
  private scan(text: string, exceptRow: number): number {
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

const kTwo32 = 2 ** 32;
const kIpv6KeyBase = 2 ** 49;

/** The numeric key of an address: exact for IPv4, a hash for IPv6, NaN for no address. */
function addressKey(family: number, bytes: Uint8Array, at: number, port: number): number {
  if (family === 4) return (((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0) * 65536 + port;
  if (family !== 6) return Number.NaN;
  let high = 0x811c9dc5;
  let low = port;
  for (let i = 0; i < 16; i++) {
    high = Math.imul(high ^ bytes[at + i]!, 0x01000193);
    low = Math.imul(low ^ bytes[at + i]!, 0x5bd1e995) ^ (low >>> 13);
  }
  return kIpv6KeyBase + ((high >>> 0) % 0x20000) * kTwo32 + (low >>> 0);
}

function rowKey(table: MembershipTable, row: number): number {
  return addressKey(table.family[row]!, table.address, row * 16, table.port[row]!);
}

function sameAddress(table: MembershipTable, row: number, address: WireAddress): boolean {
  if (table.family[row] !== address.family || table.port[row] !== address.port) return false;
  const length = address.family === 4 ? 4 : 16;
  const at = row * 16;
  for (let i = 0; i < length; i++) if (table.address[at + i] !== address.bytes[i]) return false;
  return true;
}
