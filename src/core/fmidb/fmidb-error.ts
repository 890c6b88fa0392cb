/**
 * An operating failure of the FMIDB's local API, with a stable code (as fastify's
 * FST_ERR_*): a write the limits refuse, a bad argument. Bugs still throw plain errors,
 * and nothing a peer sends ever throws (receive() counts and drops it).
 */
export type FmidbErrorCode =
  /** A subject (node id) that is empty, too long or not a string. */
  | 'FMIDB_SUBJECT_INVALID'
  /** A key that is empty, too long or not a string. */
  | 'FMIDB_KEY_INVALID'
  /** A value that is not a string, a finite number or null. */
  | 'FMIDB_VALUE_INVALID'
  /** A string value longer than valueBytesMax. */
  | 'FMIDB_VALUE_TOO_LARGE'
  /** The write would give the subject more than keysPerNodeMax keys. */
  | 'FMIDB_KEYS_PER_NODE_EXCEEDED'
  /** A setMany with more than batchEntriesMax writes, or too big for one stream frame. */
  | 'FMIDB_BATCH_TOO_LARGE'
  /** The subject departed (nodeDeparted): its record is a tombstone until it returns. */
  | 'FMIDB_SUBJECT_DEPARTED'
  /** The replica runs elsewhere (the agent's worker) and is not open, or its node is stopping. */
  | 'FMIDB_NOT_OPEN'
  /** Too many writes wait for the replica's thread already. */
  | 'FMIDB_BUSY';

export class FmidbError extends Error {
  readonly code: FmidbErrorCode;

  constructor(code: FmidbErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'FmidbError';
    this.code = code;
  }
}
