import * as F from './format.js';

/**
 * Messages as plain objects: for tests, tools and cold paths. The hot paths never
 * build these; they read and write the tape (tape.ts) or the table directly.
 */

/** A 64-bit node id as two unsigned 32-bit halves. */
export interface NodeId {
  readonly high: number;
  readonly low: number;
}

/** A UDP address: family 0 (none), 4 or 6; IPv4 uses the first 4 of the 16 bytes. */
export interface WireAddress {
  readonly family: 0 | 4 | 6;
  readonly bytes: Uint8Array;
  readonly port: number;
}

export interface MemberEntry {
  readonly id: NodeId;
  readonly address: WireAddress;
  readonly incarnation: number;
  readonly heartbeat: number;
  readonly status: number;
  /** Present on PUSH_PULL_STATE entries only. */
  readonly meta?: Uint8Array;
}

export type Message =
  | { readonly type: typeof F.kTypePing; readonly seq: number; readonly target: NodeId; readonly source: NodeId; readonly sourceAddress: WireAddress }
  | { readonly type: typeof F.kTypeIndirectPing; readonly seq: number; readonly nack: boolean; readonly target: NodeId; readonly targetAddress: WireAddress; readonly source: NodeId; readonly sourceAddress: WireAddress }
  | { readonly type: typeof F.kTypeAck; readonly seq: number; readonly source: NodeId; readonly payload: Uint8Array }
  | { readonly type: typeof F.kTypeNack; readonly seq: number; readonly source: NodeId }
  | { readonly type: typeof F.kTypeSuspect | typeof F.kTypeDead; readonly incarnation: number; readonly node: NodeId; readonly from: NodeId }
  | { readonly type: typeof F.kTypeAlive | typeof F.kTypeJoin; readonly incarnation: number; readonly node: NodeId; readonly address: WireAddress; readonly meta: Uint8Array }
  | { readonly type: typeof F.kTypeLeave; readonly incarnation: number; readonly node: NodeId }
  | { readonly type: typeof F.kTypePushPullDigest | typeof F.kTypePushPullState; readonly flags: number; readonly entries: readonly MemberEntry[] }
  | { readonly type: typeof F.kTypeUser; readonly payload: Uint8Array }
  /** hashes.length is the bucket count: a power of two from 1 to kSummaryBucketsMax. */
  | { readonly type: typeof F.kTypePushPullSummary; readonly flags: number; readonly memberCount: number; readonly hashes: Uint32Array };

export const kNoAddress: WireAddress = Object.freeze({ family: 0, bytes: new Uint8Array(16), port: 0 });

/** Parses "a.b.c.d:port" or "[v6]:port" into a wire address; throws a clear error otherwise. */
export function parseWireAddress(text: string): WireAddress {
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(text);
  const bytes = new Uint8Array(16);
  let port: number;
  let family: 4 | 6;
  if (v4 !== null) {
    for (let i = 0; i < 4; i++) {
      const octet = Number(v4[i + 1]);
      if (octet > 255) throw new RangeError(`bad IPv4 address in "${text}"`);
      bytes[i] = octet;
    }
    port = Number(v4[5]);
    family = 4;
  } else if (v6 !== null) {
    parseIPv6(v6[1]!, bytes, text);
    port = Number(v6[2]);
    family = 6;
  } else {
    throw new RangeError(`address must be IPv4 "a.b.c.d:port" or IPv6 "[addr]:port", got "${text}"`);
  }
  if (port > 65535) throw new RangeError(`port out of range in "${text}"`);
  return { family, bytes, port };
}

function parseIPv6(text: string, out: Uint8Array, whole: string): void {
  const halves = text.split('::');
  if (halves.length > 2) throw new RangeError(`bad IPv6 address in "${whole}"`);
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8) throw new RangeError(`bad IPv6 address in "${whole}"`);
  groups.forEach((g: string, i: number) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new RangeError(`bad IPv6 group "${g}" in "${whole}"`);
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
}

/** Formats a wire address as "a.b.c.d:port" or "[v6]:port". */
export function formatWireAddress(address: WireAddress): string {
  if (address.family === 4) return `${address.bytes.subarray(0, 4).join('.')}:${address.port}`;
  if (address.family === 6) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((address.bytes[i]! << 8) | address.bytes[i + 1]!).toString(16));
    return `[${groups.join(':')}]:${address.port}`;
  }
  return '-';
}

/** A node id as 16 hex digits, the form operators see. */
export function formatNodeId(id: NodeId): string {
  return (id.high >>> 0).toString(16).padStart(8, '0') + (id.low >>> 0).toString(16).padStart(8, '0');
}

/** Parses 16 hex digits into a node id; throws a clear error otherwise. */
export function parseNodeId(text: string): NodeId {
  if (!/^[0-9a-fA-F]{16}$/.test(text)) throw new RangeError(`node id must be 16 hex digits, got "${text}"`);
  return { high: parseInt(text.slice(0, 8), 16) >>> 0, low: parseInt(text.slice(8), 16) >>> 0 };
}
