import { createCipheriv, createDecipheriv, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { publicKeyOf, rawPublic } from './node-keys.js';
import { isAdmissionDatagram, kAdmissionMagic } from './admission-magic.js';

export { isAdmissionDatagram, kAdmissionMagic } from './admission-magic.js';

/**
 * The admission exchange, carried in plain UDP datagrams on the gossip port before a
 * node holds the farm keyring (it cannot seal anything yet). A datagram starts with the
 * 4-byte magic "GXA1" and is JSON after it, at most kAdmissionDatagramBytesMax bytes.
 * Farm traffic is sealed (first byte 1), so the two never mix: the agent hands an
 * admission datagram to the admission handler without letting any farm parser see it.
 *
 * What crosses in the clear is public (ids, addresses, public keys, signatures); the
 * farm keyring travels only inside a box encrypted to the requesting node's X25519 key.
 */
export const kAdmissionDatagramBytesMax = 1400;
/** Keys a grant carries at most (the keyring bound is 16; a grant must fit one datagram). */
export const kGrantKeysMax = 8;

const kNodeIdPattern = /^[0-9a-f]{16}$/;
const kB64Key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes, base64');
const kRoles = z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/)).max(8);

/** What a node asks for; signed with its Ed25519 key so nobody else can ask in its name. */
export const kRequestBodySchema = z
  .object({
    id: z.string().regex(kNodeIdPattern),
    address: z.string().min(3).max(64),
    roles: kRoles,
    ed: kB64Key,
    x: kB64Key,
    /** The keyring epoch the node holds (0 before its first grant): a controller re-grants when the farm's is newer. */
    epoch: z.number().int().min(0),
    ts: z.number().int().min(0),
  })
  .strict();
export type RequestBody = z.infer<typeof kRequestBodySchema>;

/** The farm's certificate of a node: its id, keys and roles, signed by the farm authority. */
export const kCertificateBodySchema = z
  .object({
    farm: z.string().regex(/^[0-9a-f]{16}$/),
    id: z.string().regex(kNodeIdPattern),
    ed: kB64Key,
    x: kB64Key,
    roles: kRoles,
    serial: z.number().int().min(1),
    issuedAt: z.number().int().min(0),
  })
  .strict();
export type CertificateBody = z.infer<typeof kCertificateBodySchema>;

const kSigned = z.object({ body: z.string().max(1024), sig: z.string().max(128) }).strict();
export type Signed = z.infer<typeof kSigned>;

/** What the box in a grant holds: the farm keyring (primary first), its epoch and the authority's public key. */
export const kGrantContentSchema = z
  .object({
    farm: z.string().regex(/^[0-9a-f]{16}$/),
    ca: kB64Key,
    keys: z.array(kB64Key).min(1).max(kGrantKeysMax),
    epoch: z.number().int().min(1),
    /** The authority's signing key (PKCS#8, base64), only for nodes approved with the controller role. */
    caPrivate: z.string().max(128).optional(),
  })
  .strict();
export type GrantContent = z.infer<typeof kGrantContentSchema>;

const kBoxSchema = z.object({ epk: kB64Key, nonce: z.string().max(24), data: z.string().max(1024) }).strict();
export type Box = z.infer<typeof kBoxSchema>;

export const kAdmissionMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('request'), request: kSigned }).strict(),
  z.object({ t: z.literal('pending'), id: z.string().regex(kNodeIdPattern) }).strict(),
  z.object({ t: z.literal('rejected'), id: z.string().regex(kNodeIdPattern) }).strict(),
  z.object({ t: z.literal('revoked'), id: z.string().regex(kNodeIdPattern) }).strict(),
  z.object({ t: z.literal('redirect'), controllers: z.array(z.string().max(64)).max(16) }).strict(),
  z.object({ t: z.literal('grant'), cert: kSigned, box: kBoxSchema }).strict(),
]);
export type AdmissionMessage = z.infer<typeof kAdmissionMessageSchema>;

export function encodeAdmission(message: AdmissionMessage): Buffer {
  const bytes = Buffer.concat([kAdmissionMagic, Buffer.from(JSON.stringify(message), 'utf8')]);
  if (bytes.length > kAdmissionDatagramBytesMax) throw new RangeError(`admission message of ${bytes.length} bytes exceeds ${kAdmissionDatagramBytesMax}`);
  return bytes;
}

/** Parses an admission datagram; null for anything malformed (the caller counts it). */
export function decodeAdmission(bytes: Uint8Array): AdmissionMessage | null {
  if (!isAdmissionDatagram(bytes) || bytes.length > kAdmissionDatagramBytesMax) return null;
  try {
    const parsed = kAdmissionMessageSchema.safeParse(JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 4, bytes.length - 4).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Parses the signed body with its schema; null when it does not match. */
export function parseSignedBody<T>(signed: Signed, schema: z.ZodType<T>): T | null {
  try {
    const parsed = schema.safeParse(JSON.parse(signed.body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

const kBoxInfo = Buffer.from('galaxy admission grant v1', 'utf8');

/**
 * Encrypts to a node's X25519 public key: an ephemeral X25519 pair, ECDH, HKDF-SHA256 to
 * an AES-256-GCM key. Only the holder of the node's private key can open it.
 */
export function sealBox(recipientX25519B64: string, plaintext: string): Box {
  const ephemeral = generateKeyPairSync('x25519');
  const epk = rawPublic(ephemeral.publicKey);
  const key = boxKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: publicKeyOf('x25519', recipientX25519B64) }), epk, recipientX25519B64);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { epk, nonce: nonce.toString('base64'), data: data.toString('base64') };
}

/** Opens a box with this node's X25519 private key; null when it does not authenticate. */
export function openBox(agreement: KeyObject, agreementPublicB64: string, box: Box): string | null {
  try {
    const key = boxKey(diffieHellman({ privateKey: agreement, publicKey: publicKeyOf('x25519', box.epk) }), box.epk, agreementPublicB64);
    const data = Buffer.from(box.data, 'base64');
    if (data.length < 16) return null;
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(box.nonce, 'base64'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

function boxKey(shared: Buffer, epk: string, recipient: string): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([Buffer.from(epk, 'base64'), Buffer.from(recipient, 'base64')]), kBoxInfo, 32));
}
