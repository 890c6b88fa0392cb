/**
 * The admission datagrams' 4-byte magic "GXA1" and its test, apart from the exchange's
 * parsers (admission-wire.ts): the agent's worker thread only tells an admission
 * datagram from farm traffic and hands it to the main thread, so it loads neither zod
 * nor the schemas (issue 14 item 7: about 1 MiB of the worker's heap for an agent that
 * never parses one there).
 */
export const kAdmissionMagic = Buffer.from('GXA1', 'latin1');

export function isAdmissionDatagram(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x47 && bytes[1] === 0x58 && bytes[2] === 0x41 && bytes[3] === 0x31;
}
