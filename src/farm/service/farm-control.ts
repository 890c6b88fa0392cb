import { z } from 'zod';
import { jsonCodec, type ChannelCodec } from '../../core/messenger/channel-codec.js';
import { MessengerError } from '../../core/messenger/messenger-error.js';

/**
 * Farm control messages: broadcasts of the messenger (sealed like all farm traffic,
 * epidemic, deduplicated by the engine, the origin named by the envelope). The
 * `farm-control` channel carries the farm's own decisions (JSON, small); the
 * `component` channel carries messages between components of one kind on different nodes.
 */
/** JSON bytes of one control message at most: it must fit a user broadcast (userPayloadBytesMax, envelope included). */
export const kControlBytesMax = 1000;

const kB64Key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/);
const kFingerprint = z.string().regex(/^[0-9a-f]{16}$/);
const kNodeId = z.string().regex(/^[0-9a-f]{16}$/);

export const kControlSchema = z.discriminatedUnion('op', [
  /** Install a key everywhere (an operator rotation; the payload is sealed under the current key). */
  z.object({ op: z.literal('key-install'), key: kB64Key, epoch: z.number().int().min(1), by: z.string().max(64) }).strict(),
  /** Make the key with this fingerprint primary; a member that lacks it fetches the keyring from a controller. */
  z.object({ op: z.literal('key-use'), fingerprint: kFingerprint, epoch: z.number().int().min(1), by: z.string().max(64) }).strict(),
  z.object({ op: z.literal('key-remove'), fingerprint: kFingerprint, epoch: z.number().int().min(1), by: z.string().max(64) }).strict(),
  /** A node was revoked; members fetch the new keyring (epoch) from a controller, which never gossips it. */
  z.object({ op: z.literal('revoked'), id: kNodeId, epoch: z.number().int().min(1), by: z.string().max(64) }).strict(),
  /** An admission decision, so every controller holds every decision. */
  z
    .object({
      op: z.literal('decision'),
      record: z
        .object({
          id: kNodeId,
          address: z.string().max(64),
          status: z.enum(['pending', 'approved', 'rejected', 'revoked']),
          roles: z.array(z.string().max(32)).max(8),
          ed: kB64Key,
          x: kB64Key,
          requestedAt: z.number(),
          decidedAt: z.number().nullable(),
          decidedBy: z.string().max(64).nullable(),
          epochGranted: z.number().int().min(0),
        })
        .strict(),
    })
    .strict(),
]);
export type ControlMessage = z.infer<typeof kControlSchema>;

/** The `farm-control` channel's codec: JSON checked against kControlSchema. */
export const kControlCodec: ChannelCodec<ControlMessage> = jsonCodec(kControlSchema, kControlBytesMax);

/** A message between components of one kind on different nodes. */
export interface ComponentMessage {
  readonly kind: string;
  readonly payload: Uint8Array;
}

/** The `component` channel's codec: u8 kind length, kind (ASCII), then the component's payload. */
export const kComponentCodec: ChannelCodec<ComponentMessage> = {
  encode({ kind, payload }) {
    const kindBytes = Buffer.from(kind, 'latin1');
    if (kindBytes.length === 0 || kindBytes.length > 64) throw new RangeError(`component kind "${kind}" must be 1 to 64 characters`);
    const out = new Uint8Array(1 + kindBytes.length + payload.length);
    out[0] = kindBytes.length;
    out.set(kindBytes, 1);
    out.set(payload, 1 + kindBytes.length);
    return out;
  },
  decode(bytes) {
    const length = bytes[0] ?? 0;
    if (length === 0 || length > 64 || 1 + length > bytes.length) throw new MessengerError('GALAXY_MESSENGER_DECODE', 'a component message needs a kind of 1 to 64 bytes');
    return { kind: Buffer.from(bytes.subarray(1, 1 + length)).toString('latin1'), payload: bytes.slice(1 + length) };
  },
};

/** Farm RPC service: a keyring step sent straight to a controller by the node that made it. */
export const kServiceKeyringStep = 'keyring.step';
/** Farm RPC service (static-keys farms only): a member's whole keyring, for a member a step passed by. */
export const kServiceKeyringState = 'keyring.state';
/** How long a keyring RPC waits for its answer. */
export const kKeyringRpcTimeoutMs = 5_000;

const kKeyringStateSchema = z.object({ keys: z.array(kB64Key).min(1).max(16), epoch: z.number().int().min(0) }).strict();

/** A keyring.state answer, checked: throws a MessengerError when it is not one. */
export function decodeKeyringState(body: unknown): { keys: string[]; epoch: number } {
  const parsed = kKeyringStateSchema.safeParse(body);
  if (!parsed.success) throw new MessengerError('GALAXY_MESSENGER_DECODE', 'a keyring.state answer must be { keys, epoch }');
  return parsed.data;
}
