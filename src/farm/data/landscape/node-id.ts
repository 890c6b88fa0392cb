/**
 * Node ids as the FMIDB and the landscapes spell them: 16 lower-case hex digits, the
 * form formatNodeId (wire/message.ts) writes. Upper case is refused rather than folded,
 * because two spellings of one node would be two rows of the mirror.
 */
export const kNodeIdPattern = /^[0-9a-f]{16}$/;

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && kNodeIdPattern.test(value);
}
