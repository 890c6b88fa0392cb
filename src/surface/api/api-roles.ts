import { z } from 'zod';

/** Roles of API tokens, least to most powerful. */
export type ApiRole = 'viewer' | 'operator' | 'admin';

/**
 * The three token roles, least to most powerful. Each role holds every right of the
 * ones before it, so a route names only the least role it needs and the check is one
 * comparison of ranks: a viewer reads, an operator also changes components, an admin
 * also decides admissions, rotates keys and manages tokens.
 */
export const kApiRoles = ['viewer', 'operator', 'admin'] as const satisfies readonly ApiRole[];

export const kApiRoleSchema = z.enum(kApiRoles);

/** Whether a token of role `held` may call a route that needs `needed`. */
export function roleAllows(held: ApiRole, needed: ApiRole): boolean {
  return kApiRoles.indexOf(held) >= kApiRoles.indexOf(needed);
}
