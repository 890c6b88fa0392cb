import { peekClusterName } from '../cluster/cluster-wire.js';
import { ClusterChannelsError } from './cluster-channels-error.js';

/**
 * The envelope every message of a ClusterChannels core travels in, so that cluster
 * protocol bytes, best-effort channel datagrams and slow-member reports share one
 * `send{to,bytes}` output and one socket, and a host can route any of them to the
 * right cluster's core (overlapping clusters) with peekEnvelopeCluster.
 *
 *   cluster protocol:  u8 'C', then the cluster core's bytes (they name the cluster)
 *   channel datagram:  u8 'D', u8 nameLength, name, u32 viewId, u32 senderIncarnation, bytes
 *   slow member:       u8 'S', u8 nameLength, name, u32 viewId, u32 incarnation, u8 idLength, nodeId
 *
 * A datagram names its sender's incarnation and its view so that a receiver hands it on
 * only in that view and only from that member (the port's contract: datagrams arrive
 * only in the view they were sent in).
 */
export const kEnvelopeCluster = 0x43;
export const kEnvelopeDatagram = 0x44;
export const kEnvelopeSlowMember = 0x53;
/** Cluster names and node ids are at most this many bytes of UTF-8 in an envelope. */
export const kEnvelopeNameBytesMax = 255;

export type Envelope =
  | { readonly kind: 'cluster'; readonly bytes: Uint8Array }
  | { readonly kind: 'datagram'; readonly cluster: string; readonly viewId: number; readonly senderIncarnation: number; readonly bytes: Uint8Array }
  | { readonly kind: 'slowMember'; readonly cluster: string; readonly viewId: number; readonly nodeId: string; readonly incarnation: number };

const kEncoder = new TextEncoder();
const kDecoder = new TextDecoder('utf-8', { fatal: true });

export function encodeClusterEnvelope(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.length);
  out[0] = kEnvelopeCluster;
  out.set(bytes, 1);
  return out;
}

export function encodeDatagramEnvelope(cluster: string, viewId: number, senderIncarnation: number, bytes: Uint8Array): Uint8Array {
  const name = nameBytes(cluster);
  const out = new Uint8Array(2 + name.length + 8 + bytes.length);
  const view = new DataView(out.buffer);
  out[0] = kEnvelopeDatagram;
  out[1] = name.length;
  out.set(name, 2);
  view.setUint32(2 + name.length, viewId, true);
  view.setUint32(6 + name.length, senderIncarnation, true);
  out.set(bytes, 10 + name.length);
  return out;
}

export function encodeSlowMemberEnvelope(cluster: string, viewId: number, nodeId: string, incarnation: number): Uint8Array {
  const name = nameBytes(cluster);
  const id = nameBytes(nodeId);
  const out = new Uint8Array(2 + name.length + 9 + id.length);
  const view = new DataView(out.buffer);
  out[0] = kEnvelopeSlowMember;
  out[1] = name.length;
  out.set(name, 2);
  view.setUint32(2 + name.length, viewId, true);
  view.setUint32(6 + name.length, incarnation, true);
  out[10 + name.length] = id.length;
  out.set(id, 11 + name.length);
  return out;
}

/** Decodes an envelope; throws ClusterChannelsError GALAXY_CLUSTER_CHANNELS_ENVELOPE_MALFORMED on anything else. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length < 1) malformed('empty message');
  const tag = bytes[0];
  if (tag === kEnvelopeCluster) return { kind: 'cluster', bytes: bytes.subarray(1) };
  if (tag !== kEnvelopeDatagram && tag !== kEnvelopeSlowMember) malformed(`unknown tag ${String(tag)}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { text: cluster, end } = readName(bytes, 1);
  if (bytes.length < end + 8) malformed('truncated');
  const viewId = view.getUint32(end, true);
  const incarnation = view.getUint32(end + 4, true);
  if (tag === kEnvelopeDatagram) return { kind: 'datagram', cluster, viewId, senderIncarnation: incarnation, bytes: bytes.subarray(end + 8) };
  const node = readName(bytes, end + 8);
  if (node.end !== bytes.length) malformed('trailing bytes');
  return { kind: 'slowMember', cluster, viewId, nodeId: node.text, incarnation };
}

/** The cluster an envelope belongs to, for routing; throws like decodeEnvelope. */
export function peekEnvelopeCluster(bytes: Uint8Array): string {
  if (bytes.length < 1) malformed('empty message');
  if (bytes[0] === kEnvelopeCluster) {
    try {
      return peekClusterName(bytes.subarray(1));
    } catch {
      return malformed('cluster protocol bytes without a cluster name');
    }
  }
  if (bytes[0] !== kEnvelopeDatagram && bytes[0] !== kEnvelopeSlowMember) malformed(`unknown tag ${String(bytes[0])}`);
  return readName(bytes, 1).text;
}

function nameBytes(text: string): Uint8Array {
  const bytes = kEncoder.encode(text);
  if (bytes.length === 0 || bytes.length > kEnvelopeNameBytesMax) throw new RangeError(`a name of ${bytes.length} bytes does not fit an envelope (1 to ${kEnvelopeNameBytesMax})`);
  return bytes;
}

function readName(bytes: Uint8Array, at: number): { text: string; end: number } {
  if (bytes.length < at + 1) malformed('truncated');
  const length = bytes[at]!;
  if (length === 0 || bytes.length < at + 1 + length) malformed('truncated name');
  try {
    return { text: kDecoder.decode(bytes.subarray(at + 1, at + 1 + length)), end: at + 1 + length };
  } catch {
    return malformed('a name that is not UTF-8');
  }
}

function malformed(why: string): never {
  throw new ClusterChannelsError('GALAXY_CLUSTER_CHANNELS_ENVELOPE_MALFORMED', why);
}
