import { ApiError } from './api-error.js';

/**
 * An ApiError the server itself raises, with the response headers the status needs:
 * Allow on 405, WWW-Authenticate on 401, Upgrade on 426, Connection: close when the
 * request body is left unread. Codes are stable: clients and scripts match on them.
 */
export type ApiHttpErrorCode =
  | 'GALAXY_API_NOT_FOUND'
  | 'GALAXY_API_METHOD_NOT_ALLOWED'
  | 'GALAXY_API_UNAUTHORIZED'
  | 'GALAXY_API_FORBIDDEN'
  | 'GALAXY_API_INVALID'
  | 'GALAXY_API_BAD_PATH'
  | 'GALAXY_API_BODY_MISSING'
  | 'GALAXY_API_BODY_TOO_LARGE'
  | 'GALAXY_API_UNSUPPORTED_MEDIA_TYPE'
  | 'GALAXY_API_MALFORMED_JSON'
  | 'GALAXY_API_UPGRADE_REQUIRED'
  | 'GALAXY_API_NOT_WEBSOCKET'
  | 'GALAXY_API_BUSY'
  | 'GALAXY_API_INTERNAL';

export class ApiHttpError extends ApiError {
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: ApiHttpErrorCode, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(status, code, message);
    this.name = 'ApiHttpError';
    this.headers = headers;
  }
}
