import type { ApiRole } from '../../surface/api/api-roles.js';
import { ApiHttpError } from './api-http-error.js';
import { roleAllows } from '../../surface/api/api-roles.js';
import type { ApiCaller } from '../../surface/api/api-route.js';
import type { TokenStore } from './token-store.js';

/**
 * Bearer-token authentication (RFC 6750) and the role check. A missing or unknown
 * token is a 401, counted by the server; a known token with too low a role is a 403,
 * which names the role needed so the operator knows which token to use. There is no
 * rate limit on failures: a token has 256 random bits, so guessing cannot succeed at
 * any rate this server can answer.
 */
const kBearerPattern = /^Bearer[ ]+([^ ]+)[ ]*$/i;
const kRealm = 'Bearer realm="galaxy"';

export function authenticate(authorization: string | undefined, tokens: TokenStore): ApiCaller {
  if (authorization === undefined) {
    throw new ApiHttpError(401, 'GALAXY_API_UNAUTHORIZED', 'this route needs a token: send Authorization: Bearer <token>', { 'WWW-Authenticate': kRealm });
  }
  const secret = kBearerPattern.exec(authorization)?.[1];
  const identity = secret === undefined ? null : tokens.authenticate(secret);
  if (identity === null) {
    throw new ApiHttpError(401, 'GALAXY_API_UNAUTHORIZED', 'the bearer token is not valid', { 'WWW-Authenticate': `${kRealm}, error="invalid_token"` });
  }
  return identity;
}

export function authorize(caller: ApiCaller, needed: ApiRole): void {
  if (roleAllows(caller.role, needed)) return;
  throw new ApiHttpError(403, 'GALAXY_API_FORBIDDEN', `token "${caller.name}" has role ${caller.role}; this needs ${needed}`);
}
