/**
 * How many leading bytes of `bytes` end on a UTF-8 character boundary: the length
 * without an incomplete multi-byte sequence at the end (at most 3 bytes held back).
 * Output is carried as text in farm RPC bodies and API answers, chunk by chunk; cutting
 * a chunk inside a character would turn one character into two replacement characters.
 * Bytes that are not UTF-8 at all are not held back: they decode to U+FFFD wherever
 * they are cut, and holding them would only delay output.
 */
export function utf8CompletePrefixLength(bytes: Uint8Array): number {
  const length = bytes.length;
  // Look back over at most 3 continuation bytes (10xxxxxx) for the lead byte.
  for (let back = 1; back <= Math.min(4, length); back++) {
    const byte = bytes[length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xf0 && byte <= 0xf7 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    // An ASCII byte, an invalid lead byte (0xf8..0xff) or a complete sequence: nothing to hold.
    if (needed === 1 || byte > 0xf7 || back >= needed) return length;
    return length - back;
  }
  // Only continuation bytes at the end: not a sequence that more bytes could complete.
  return length;
}
