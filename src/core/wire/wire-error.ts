import * as F from './format.js';

/** Stable names of the kernel error codes, indexed by code. */
const kNames: readonly string[] = [
  'GALAXY_WIRE_OK',
  'GALAXY_WIRE_TRUNCATED',
  'GALAXY_WIRE_BAD_MAGIC',
  'GALAXY_WIRE_BAD_VERSION',
  'GALAXY_WIRE_BAD_CHECKSUM',
  'GALAXY_WIRE_UNKNOWN_TYPE',
  'GALAXY_WIRE_BAD_LENGTH',
  'GALAXY_WIRE_TOO_LARGE',
  'GALAXY_WIRE_BAD_ADDRESS',
  'GALAXY_WIRE_TAPE_FULL',
  'GALAXY_WIRE_NESTED_COMPOUND',
  'GALAXY_WIRE_BAD_STATUS',
  'GALAXY_WIRE_BAD_COUNT',
  'GALAXY_WIRE_FIELD_TOO_LARGE',
  'GALAXY_WIRE_WRONG_TYPE',
  'GALAXY_TABLE_FULL',
];

const kMessages: readonly string[] = [
  'no error',
  'datagram ends before its fields do',
  'not a Galaxy datagram (bad magic)',
  'unsupported protocol version',
  'checksum mismatch',
  'unknown message type',
  'length fields disagree with the datagram size',
  `message exceeds the size limit (datagrams: ${F.kDatagramBytesMax} bytes)`,
  'address family is not 0, 4 or 6',
  'decoded message does not fit the tape',
  'compound messages cannot nest',
  'member status is not alive, suspect, dead or left',
  'message or entry count out of range',
  'a payload or meta field exceeds its limit',
  'message type not accepted here',
  'membership table is full',
];

if (kNames.length !== F.kErrCodeLimit || kMessages.length !== F.kErrCodeLimit) {
  throw new Error('wire-error.ts is out of step with the kErr* codes in format.ts');
}

/** A typed error for a negated kernel return code: stable `code` string, numeric `errno`. */
export class WireError extends Error {
  readonly code: string;
  readonly errno: number;

  constructor(errno: number, context?: string) {
    const index = errno > 0 && errno < F.kErrCodeLimit ? errno : 0;
    super(context === undefined ? kMessages[index]! : `${context}: ${kMessages[index]}`);
    this.name = 'WireError';
    this.code = index === 0 ? `GALAXY_WIRE_UNKNOWN_ERROR_${errno}` : kNames[index]!;
    this.errno = errno;
  }
}

/** The stable name of a (positive) error code, for counters and logs. */
export function wireErrorName(errno: number): string {
  return errno > 0 && errno < F.kErrCodeLimit ? kNames[errno]! : `GALAXY_WIRE_UNKNOWN_ERROR_${errno}`;
}
