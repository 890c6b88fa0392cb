import type { MembershipTable } from '../src/core/table/membership-table.js';
import * as F from '../src/core/wire/format.js';
import { formatWireAddress } from '../src/core/wire/message.js';

/**
 * Issue 14's starting point for "which row has this address", kept verbatim (from
 * MembershipEngine.rowOfAddress) so that tests and bench:path compare the AddressIndex
 * with it: it formats every row's address on every call.
 */
export function scanRowOfAddress(table: MembershipTable, selfRow: number, address: string): number {
  for (let row = 0; row < table.rowCount; row++) {
    if (table.status[row] !== F.kStatusEmpty && row !== selfRow && addressOf(table, row) === address) return row;
  }
  return -1;
}

function addressOf(table: MembershipTable, row: number): string {
  return formatWireAddress({ family: table.family[row]! as 0 | 4 | 6, bytes: table.address.subarray(row * 16, row * 16 + 16), port: table.port[row]! });
}
