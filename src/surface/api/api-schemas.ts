import { z } from 'zod';
import { kApiRoleSchema } from './api-roles.js';

/**
 * What each route accepts in its path, query and body. Every object is strict: an
 * unknown field is refused rather than ignored, so a misspelt option (`{"role": [...]}`
 * for `roles`) fails loudly instead of silently doing the default.
 */

/** A node id: 16 lowercase hex digits, as the agent derives it from its key. */
export const kNodeIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'a node id is 16 lowercase hex digits');
/** As the admission wire and the agent's --role accept them. */
const kNodeRoleSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a role is 1 to 32 of a-z 0-9 - starting with a letter');
export const kNodeRolesMax = 8;
/** As the component host names components (also their state directory names). */
export const kComponentNameSchema = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a component name is 1 to 63 of a-z 0-9 - starting with a letter');
/** Keys of one component configuration at most; the body limit bounds the rest. */
export const kComponentConfigKeysMax = 64;
/** Event kinds one stream may filter on at most. */
export const kEventKindsMax = 8;

/**
 * A farm key: exactly 32 bytes, in canonical base64 (44 characters, one '='). Canonical,
 * so one key has one spelling and its fingerprint is the same whoever typed it.
 */
export const kFarmKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9+/]{43}=$/, 'a key is 32 bytes in base64 (44 characters)')
  .refine((key) => Buffer.from(key, 'base64').toString('base64') === key, 'a key must be canonical base64');

export const kNodeIdParamsSchema = z.object({ id: kNodeIdSchema }).strict();
export const kComponentParamsSchema = z.object({ name: kComponentNameSchema }).strict();
/** An API token's name: what audit records say decided. */
export const kTokenNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a token name is 1 to 64 of A-Z a-z 0-9 _ . -');

export const kTokenParamsSchema = z.object({ name: kTokenNameSchema }).strict();
export const kKeyOperationParamsSchema = z.object({ op: z.enum(['install', 'use', 'remove']) }).strict();

export const kNoQuerySchema = z.object({}).strict();
export const kNodesQuerySchema = z.object({ status: z.enum(['pending', 'approved', 'rejected', 'revoked']).optional() }).strict();
export const kValuesQuerySchema = z.object({ node: kNodeIdSchema.optional() }).strict();
/** `?kind=membership,component`: comma-separated event kinds. */
export const kEventsQuerySchema = z
  .object({
    kind: z
      .string()
      .transform((text) => text.split(','))
      .pipe(z.array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'an event kind is 1 to 32 of a-z 0-9 - starting with a letter')).min(1).max(kEventKindsMax))
      .optional(),
  })
  .strict();

/** Bodies of routes that take none but accept `{}` (what most clients send with a POST). */
export const kEmptyBodySchema = z.object({}).strict();
export const kApproveBodySchema = z.object({ roles: z.array(kNodeRoleSchema).max(kNodeRolesMax).optional() }).strict();
export const kKeyBodySchema = z.object({ key: kFarmKeySchema }).strict();
/** use and remove: the key, or its fingerprint as GET /v1/keys shows it (16 lowercase hex digits). */
export const kKeyRefBodySchema = z
  .object({
    key: z.string().refine((key) => /^[0-9a-f]{16}$/.test(key) || kFarmKeySchema.safeParse(key).success, 'a key is 32 bytes in base64 (44 characters), or its fingerprint (16 lowercase hex digits, as the key list shows)'),
  })
  .strict();
export const kTokenCreateBodySchema = z.object({ name: kTokenNameSchema, role: kApiRoleSchema }).strict();
/** `__proto__` is refused by name: zod would otherwise drop it silently, and the component would never see it. */
export const kComponentConfigBodySchema = z
  .record(
    z
      .string()
      .min(1)
      .max(64)
      .refine((key) => key !== '__proto__', 'a configuration key cannot be __proto__'),
    z.unknown(),
  )
  .refine((config) => Object.keys(config).length <= kComponentConfigKeysMax, `a configuration has at most ${kComponentConfigKeysMax} keys`);
