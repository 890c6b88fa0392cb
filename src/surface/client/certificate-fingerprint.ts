import { X509Certificate } from 'node:crypto';

/**
 * The SHA-256 fingerprint of an API certificate, as the agent prints it and the CLI pins
 * it: "SHA256:" then the 32 bytes in upper-case hex separated by colons, the form
 * `openssl x509 -noout -fingerprint -sha256` shows, so an operator can check it by hand.
 */
export const kFingerprintPrefix = 'SHA256:';

/** The fingerprint of a PEM or DER certificate. */
export function certificateFingerprint(certificate: string | Buffer): string {
  return `${kFingerprintPrefix}${new X509Certificate(certificate).fingerprint256}`;
}

/**
 * Accepts "SHA256:AB:CD:…", the bare hex with or without colons, any case; returns the
 * canonical form, or null when it is not 32 bytes of hex.
 */
export function parseFingerprint(text: string): string | null {
  const trimmed = text.trim();
  const body = trimmed.toUpperCase().startsWith(kFingerprintPrefix) ? trimmed.slice(kFingerprintPrefix.length) : trimmed;
  const hex = body.replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;
  return `${kFingerprintPrefix}${hex.match(/../g)!.join(':')}`;
}
