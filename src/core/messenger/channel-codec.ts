import { MessengerError } from './messenger-error.js';

/**
 * How a channel's values become bytes and back. decode throws MessengerError
 * GALAXY_MESSENGER_DECODE (or another coded error) on anything it refuses; the
 * messenger then drops the message and counts it under the channel.
 */
export interface ChannelCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** Raw bytes, for channels whose users have their own frame format (the FMIDB's). decode copies: the input may be a view into a batch. */
export const kBytesCodec: ChannelCodec<Uint8Array> = {
  encode: (value) => value,
  decode: (bytes) => bytes.slice(),
};

const kEncoder = new TextEncoder();
const kDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * What jsonCodec needs of a schema: zod's safeParse, stated structurally so the core
 * layer depends on no library (a zod schema fits it as it is).
 */
export interface JsonSchemaLike<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ message: string }> } };
}

/** JSON checked by a schema (zod's, say) on the way in: what does not parse or fit the schema is refused. */
export function jsonCodec<T>(schema: JsonSchemaLike<T>, bytesMax: number): ChannelCodec<T> {
  return {
    encode: (value) => {
      const bytes = kEncoder.encode(JSON.stringify(value));
      if (bytes.length > bytesMax) throw new MessengerError('GALAXY_MESSENGER_TOO_LARGE', `a message of ${bytes.length} JSON bytes exceeds ${bytesMax}`);
      return bytes;
    },
    decode: (bytes) => {
      if (bytes.length > bytesMax) throw new MessengerError('GALAXY_MESSENGER_TOO_LARGE', `a message of ${bytes.length} JSON bytes exceeds ${bytesMax}`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(kDecoder.decode(bytes));
      } catch (error) {
        throw new MessengerError('GALAXY_MESSENGER_DECODE', `not JSON: ${(error as Error).message}`);
      }
      const result = schema.safeParse(parsed);
      if (!result.success) throw new MessengerError('GALAXY_MESSENGER_DECODE', `refused by the channel's schema: ${result.error.issues[0]?.message ?? 'invalid'}`);
      return result.data;
    },
  };
}
