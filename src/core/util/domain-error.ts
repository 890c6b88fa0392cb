import { CodedError } from './coded-error.js';

/**
 * What kind of failure a domain operation met, in the caller's terms. Domain code
 * (src/farm, src/cluster) says only this and a stable code; the API layer alone turns a
 * kind into an HTTP status (src/ops/api/api-response.ts), and the CLI into an exit code.
 */
export type FailureKind =
  | 'invalid' // the request is wrong: fix it and retry (HTTP 400)
  | 'forbidden' // the caller may not do this (403)
  | 'not-found' // what the request names does not exist (404)
  | 'conflict' // the state of things forbids it now (409)
  | 'too-large' // over a stated bound (413)
  | 'failed' // it was tried and failed (500)
  | 'upstream-failed' // another node or component failed it (502)
  | 'unavailable' // not possible now: busy, closed, not running; retry later (503)
  | 'timeout'; // no answer within its bound (504)

export const kFailureKinds: readonly FailureKind[] = ['invalid', 'forbidden', 'not-found', 'conflict', 'too-large', 'failed', 'upstream-failed', 'unavailable', 'timeout'];

/** A coded domain failure with its kind. */
export class DomainError extends CodedError {
  readonly kind: FailureKind;

  constructor(kind: FailureKind, code: string, message: string) {
    super(code, message);
    this.kind = kind;
  }
}
