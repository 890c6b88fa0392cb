import { z } from 'zod';

/**
 * Farm control messages: user broadcasts (sealed like all farm traffic, epidemic,
 * deduplicated by the engine) whose first byte says which channel they belong to.
 * Channel 1 carries the farm's own decisions (JSON, small); channel 2 carries messages
 * between components of one kind on different nodes.
 */
export const kChannelControl = 1;
export const kChannelComponent = 2;

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

export function encodeControl(message: ControlMessage): Uint8Array {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  const out = new Uint8Array(1 + json.length);
  out[0] = kChannelControl;
  out.set(json, 1);
  return out;
}

export function decodeControl(payload: Uint8Array): ControlMessage | null {
  try {
    const parsed = kControlSchema.safeParse(JSON.parse(Buffer.from(payload.buffer, payload.byteOffset + 1, payload.length - 1).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Component channel: u8 channel, u8 kind length, kind (ASCII), then the component's payload. */
export function encodeComponentMessage(kind: string, payload: Uint8Array): Uint8Array {
  const kindBytes = Buffer.from(kind, 'latin1');
  if (kindBytes.length === 0 || kindBytes.length > 64) throw new RangeError(`component kind "${kind}" must be 1 to 64 characters`);
  const out = new Uint8Array(2 + kindBytes.length + payload.length);
  out[0] = kChannelComponent;
  out[1] = kindBytes.length;
  out.set(kindBytes, 2);
  out.set(payload, 2 + kindBytes.length);
  return out;
}

export function decodeComponentMessage(payload: Uint8Array): { kind: string; payload: Uint8Array } | null {
  if (payload.length < 3) return null;
  const length = payload[1]!;
  if (length === 0 || 2 + length > payload.length) return null;
  return { kind: Buffer.from(payload.subarray(2, 2 + length)).toString('latin1'), payload: payload.slice(2 + length) };
}
