import type { ZodTypeAny, z } from 'zod';
import { ApiHttpError } from './api-http-error.js';
import { describeZodError } from '../../node/util/zod-issues.js';

/**
 * A request's path and query as the route schemas see them, and the one place where
 * a schema failure becomes a 400 whose message names the field and what was wrong
 * (e.g. `body.roles.0: a role is 1 to 32 of a-z 0-9 - starting with a letter`).
 */
export interface RequestTarget {
  readonly pathname: string;
  readonly search: string;
}

/**
 * Splits the request target at '?'. Done by hand rather than with `new URL(target,
 * base)`, which would read a target such as `//host/v1/node` as another host.
 */
export function splitTarget(target: string): RequestTarget {
  const at = target.indexOf('?');
  const pathname = at < 0 ? target : target.slice(0, at);
  if (!pathname.startsWith('/')) throw new ApiHttpError(400, 'GALAXY_API_BAD_PATH', 'the request target must be an absolute path');
  return { pathname, search: at < 0 ? '' : target.slice(at + 1) };
}

/** Query parameters; a name given twice becomes an array, which the schemas refuse with a clear message. */
export function queryObject(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(search)) {
    const before = query[name];
    query[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return { ...query };
}

export function parseInput<S extends ZodTypeAny>(where: 'path' | 'query' | 'body', schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data as z.output<S>;
  throw new ApiHttpError(400, 'GALAXY_API_INVALID', describeZodError(where, parsed.error));
}
