import { CodedError } from '../../core/util/coded-error.js';
/**
 * A bad ApiServer option (bind address, limits): a configuration mistake the operator
 * must fix, reported before anything listens. Distinct from ApiError, which is an
 * HTTP answer to one request.
 */
export type ApiConfigErrorCode = 'GALAXY_API_BIND_INVALID' | 'GALAXY_API_BIND_REMOTE' | 'GALAXY_API_LIMIT_INVALID';

export class ApiConfigError extends CodedError<ApiConfigErrorCode> {}
