import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * A self-signed X.509 v3 certificate for the agent API, made with node:crypto alone: an
 * ECDSA P-256 key, and the certificate's DER written here (node:crypto signs and parses
 * certificates but does not build them). The alternative, the `selfsigned` package, pulls
 * in node-forge and generates RSA keys in JavaScript; the fields a TLS server certificate
 * needs are few enough to encode by hand, and X509Certificate and a real TLS handshake
 * check the result in the tests. Clients do not trust it through a CA: they pin its
 * SHA-256 fingerprint (certificate-fingerprint.ts).
 */
export interface SelfSignedCertificate {
  /** PEM of the certificate. */
  readonly cert: string;
  /** PEM (PKCS#8) of the private key. */
  readonly key: string;
}

export interface SelfSignedOptions {
  /** Subject common name. */
  readonly commonName: string;
  /** Host names and IP addresses put in subjectAltName (at most kAltNamesMax). */
  readonly altNames: readonly string[];
  /** Wall clock at creation, ms; the certificate is valid from an hour before. */
  readonly nowMs: number;
  /** How long it is valid, days. */
  readonly validityDays?: number;
}

/** Pinned certificates are replaced by deleting them, not by expiry: ten years by default. */
export const kSelfSignedValidityDaysDefault = 3650;
const kAltNamesMax = 64;
const kClockSkewMs = 3_600_000;

export function createSelfSignedCertificate(options: SelfSignedOptions): SelfSignedCertificate {
  if (options.altNames.length > kAltNamesMax) throw new RangeError(`at most ${kAltNamesMax} subjectAltName entries, got ${options.altNames.length}`);
  const validityDays = options.validityDays ?? kSelfSignedValidityDaysDefault;
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 36_500) throw new RangeError(`validityDays must be an integer from 1 to 36500, got ${validityDays}`);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = sequence(set(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(options.commonName, 'utf8')))));
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // positive, as RFC 5280 requires
  const tbs = sequence(
    tlv(0xa0, derInteger(Buffer.from([2]))), // v3
    derInteger(serial),
    kEcdsaWithSha256,
    name,
    sequence(time(options.nowMs - kClockSkewMs), time(options.nowMs + validityDays * 86_400_000)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, sequence(...extensions(options.altNames))),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = sequence(tbs, kEcdsaWithSha256, bitString(signature));
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  // Parsing it back is the assertion that the encoding above is a certificate.
  const parsed = new X509Certificate(cert);
  if (!parsed.verify(publicKey)) throw new Error('the self-signed certificate does not verify with its own key');
  return { cert, key: pemKey(privateKey) };
}

/** Whether a PEM key is one the certificate holds (so a pair read from disk belongs together). */
export function certificateMatchesKey(cert: string | Buffer, key: string | Buffer): boolean {
  return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
}

function pemKey(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function extensions(altNames: readonly string[]): Buffer[] {
  const names = altNames.map((entry) => {
    const family = isIP(entry);
    if (family === 4) return tlv(0x87, Buffer.from(entry.split('.').map(Number)));
    if (family === 6) return tlv(0x87, ipv6Bytes(entry));
    return tlv(0x82, Buffer.from(entry, 'ascii'));
  });
  return [
    extension('2.5.29.19', true, sequence()), // basicConstraints: not a CA
    extension('2.5.29.15', true, Buffer.from([0x03, 0x02, 0x07, 0x80])), // keyUsage: digitalSignature
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
    ...(names.length === 0 ? [] : [extension('2.5.29.17', false, sequence(...names))]),
  ];
}

function ipv6Bytes(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head === '' ? [] : head!.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), tlv(0x04, value));
}

/** UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString(); // 2026-12-07T04:30:00.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = Number(iso.slice(0, 4));
  return year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

const kEcdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'));

function oid(text: string): Buffer {
  const parts = text.split('.').map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk = [part & 0x7f];
    for (let rest = part >>> 7; rest > 0; rest >>>= 7) chunk.unshift((rest & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/**
 * A DER INTEGER of these big-endian bytes, read as unsigned: minimal, as DER requires
 * (no leading 0x00 before a byte below 0x80; one 0x00 before a byte with the high bit
 * set). A 16-byte random serial starts with 0x00 and then a byte below 0x80 once in 256:
 * written as it was, OpenSSL refused the certificate ("illegal padding", seen in CI).
 */
export function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && (bytes[start + 1]! & 0x80) === 0) start++;
  const minimal = bytes.subarray(start);
  return tlv(0x02, (minimal[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

function bitString(bytes: Buffer): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

/** One DER tag-length-value; lengths in short or long form. */
function tlv(tag: number, value: Buffer): Buffer {
  const length = value.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else if (length < 0x100) header = [tag, 0x81, length];
  else if (length < 0x10000) header = [tag, 0x82, length >> 8, length & 0xff];
  else throw new RangeError(`a DER value of ${length} bytes is more than a certificate holds`);
  return Buffer.concat([Buffer.from(header), value]);
}
