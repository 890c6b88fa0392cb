import type { HttpMethod, RoutePattern } from '../../surface/api/api-route.js';
import { ApiHttpError } from './api-http-error.js';

/**
 * Finds the route for a method and path. Patterns are literal segments and `:name`
 * parameters (one whole segment each), e.g. `/v1/nodes/:id/approve`. A path that
 * matches some pattern but not for this method is a 405 naming the allowed methods; a
 * path that matches none is a 404. Parameters come back percent-decoded and still
 * unvalidated: each route's schema checks them.
 */

export interface RouteMatch<R> {
  readonly route: R;
  readonly params: Record<string, string>;
}

/** Path segments at most: longer paths match nothing, and are not split further. */
const kSegmentsMax = 16;

interface Compiled<R> {
  readonly route: R;
  readonly segments: readonly string[];
}

export class ApiRouter<R extends RoutePattern> {
  private readonly compiled: ReadonlyArray<Compiled<R>>;

  constructor(routes: readonly R[]) {
    const seen = new Set<string>();
    this.compiled = routes.map((route) => {
      const key = `${route.method} ${route.pattern}`;
      if (seen.has(key)) throw new Error(`route ${key} is defined twice`);
      seen.add(key);
      if (!route.pattern.startsWith('/')) throw new Error(`route pattern "${route.pattern}" must start with /`);
      return { route, segments: route.pattern.split('/').slice(1) };
    });
  }

  match(method: string, pathname: string): RouteMatch<R> {
    const segments = pathname.split('/', kSegmentsMax + 2).slice(1);
    const allowed: HttpMethod[] = [];
    for (const { route, segments: pattern } of this.compiled) {
      const params = matchSegments(pattern, segments);
      if (params === null) continue;
      if (route.method === method) return { route, params };
      allowed.push(route.method);
    }
    if (allowed.length === 0) throw new ApiHttpError(404, 'GALAXY_API_NOT_FOUND', `no API route ${pathname}`);
    throw new ApiHttpError(405, 'GALAXY_API_METHOD_NOT_ALLOWED', `${pathname} allows ${allowed.join(', ')}, not ${method}`, { Allow: allowed.join(', ') });
  }
}

function matchSegments(pattern: readonly string[], segments: readonly string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i]!;
    const actual = segments[i]!;
    if (expected.startsWith(':')) {
      if (actual === '') return null;
      params[expected.slice(1)] = decodeSegment(actual);
    } else if (expected !== actual) {
      return null;
    }
  }
  return params;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiHttpError(400, 'GALAXY_API_BAD_PATH', `path segment "${segment}" is not valid percent-encoding`);
  }
}
