/**
 * An error with the HTTP status to answer with. Only the API layer (src/ops/api) makes
 * these: domain code fails with a DomainError, which toApiError (api-response.ts) maps
 * to a status by its kind.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}
