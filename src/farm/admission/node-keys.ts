import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AgentUsageError } from '../../node/util/agent-usage-error.js';
import { writeFileAtomic } from '../../node/util/atomic-file.js';

/**
 * A node's own key pairs, made on its first start and kept in the data directory:
 * Ed25519 to sign (admission requests, and certificates when the node is a controller)
 * and X25519 so a controller can encrypt the farm keyring to this node alone. The farm
 * certifies the Ed25519 public key when an administrator approves the node.
 */
export const kNodeKeysFileName = 'node-keys.json';

export interface NodeKeys {
  readonly signing: KeyObject;
  readonly signingPublic: KeyObject;
  readonly agreement: KeyObject;
  readonly agreementPublic: KeyObject;
  /** Raw 32-byte public keys, base64. */
  readonly signingPublicB64: string;
  readonly agreementPublicB64: string;
}

const kKeysSchema = z.object({ ed25519: z.string().min(1), x25519: z.string().min(1) }).strict();

/** Loads node-keys.json, creating fresh key pairs on the first start. */
export function loadOrCreateNodeKeys(dataDir: string): { keys: NodeKeys; created: boolean } {
  const path = join(dataDir, kNodeKeysFileName);
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new AgentUsageError(`node keys ${path}: cannot read: ${(error as Error).message}`);
  }
  if (text === null) {
    const keys = generateNodeKeys();
    writeFileAtomic(path, `${JSON.stringify({ ed25519: exportPrivate(keys.signing), x25519: exportPrivate(keys.agreement) })}\n`);
    return { keys, created: true };
  }
  try {
    const parsed = kKeysSchema.parse(JSON.parse(text));
    return { keys: nodeKeysOf(importPrivate(parsed.ed25519), importPrivate(parsed.x25519)), created: false };
  } catch (error) {
    throw new AgentUsageError(`node keys ${path} are corrupt (${(error as Error).message}); they are this node's farm identity, so they are not replaced: delete the data directory's credentials to start as a new node`);
  }
}

export function generateNodeKeys(): NodeKeys {
  return nodeKeysOf(generateKeyPairSync('ed25519').privateKey, generateKeyPairSync('x25519').privateKey);
}

function nodeKeysOf(signing: KeyObject, agreement: KeyObject): NodeKeys {
  const signingPublic = createPublicKey(signing);
  const agreementPublic = createPublicKey(agreement);
  return { signing, signingPublic, agreement, agreementPublic, signingPublicB64: rawPublic(signingPublic), agreementPublicB64: rawPublic(agreementPublic) };
}

/** PKCS#8 DER, base64. */
export function exportPrivate(key: KeyObject): string {
  return key.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

export function importPrivate(der: string): KeyObject {
  return createPrivateKey({ key: Buffer.from(der, 'base64'), format: 'der', type: 'pkcs8' });
}

/** The raw 32 public key bytes, base64 (the last 32 bytes of the SPKI DER for both curves). */
export function rawPublic(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('base64');
}

// SPKI DER prefixes of a raw 32-byte key (RFC 8410).
const kEd25519Prefix = Buffer.from('302a300506032b6570032100', 'hex');
const kX25519Prefix = Buffer.from('302a300506032b656e032100', 'hex');

/** A public key from its raw base64 form; throws on a wrong length. */
export function publicKeyOf(kind: 'ed25519' | 'x25519', rawB64: string): KeyObject {
  const raw = Buffer.from(rawB64, 'base64');
  if (raw.length !== 32) throw new RangeError(`${kind} public key must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([kind === 'ed25519' ? kEd25519Prefix : kX25519Prefix, raw]), format: 'der', type: 'spki' });
}

export function signText(key: KeyObject, text: string): string {
  return sign(null, Buffer.from(text, 'utf8'), key).toString('base64');
}

export function verifyText(key: KeyObject, text: string, signatureB64: string): boolean {
  try {
    return verify(null, Buffer.from(text, 'utf8'), key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** First 16 hex digits of SHA-256 of a raw base64 key: what operators compare. */
export function fingerprintOf(rawB64: string): string {
  return createHash('sha256').update(Buffer.from(rawB64, 'base64')).digest('hex').slice(0, 16);
}
