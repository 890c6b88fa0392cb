import type { ZodError } from 'zod';

/** Issues named in one message at most: enough to fix a request, bounded for a hostile one. */
const kIssuesShownMax = 5;

/**
 * One line naming what was wrong and where, e.g. `body.roles.0: Invalid enum value`.
 * `where` says which part of the input was parsed (body, query, path, a file name), so
 * the caller can tell a bad path parameter from a bad field of the body.
 */
export function describeZodError(where: string, error: ZodError): string {
  const shown = error.issues.slice(0, kIssuesShownMax).map((issue) => {
    const path = issue.path.length === 0 ? where : `${where}.${issue.path.join('.')}`;
    return `${path}: ${issue.message}`;
  });
  const more = error.issues.length - shown.length;
  return more > 0 ? `${shown.join('; ')}; and ${more} more` : shown.join('; ');
}
