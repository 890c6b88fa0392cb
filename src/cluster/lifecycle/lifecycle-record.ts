import { z } from 'zod';
import { kComponentNamePattern } from '../../farm/install/package-manifest.js';
import { isSemver } from '../../farm/install/semver.js';
import { kClusterNamePattern, kNodeIdPattern } from '../service/cluster-name.js';

/**
 * What the cluster lifecycle (cluster-lifecycle.ts) knows of a cluster it made from a
 * profile, as the FMIDB holds it: subject `farm/lifecycle/<name>`, key `record`, JSON.
 * The cluster's view membership stays the cluster service's definition
 * (`farm/cluster/<name>`, explicit nodes); this record adds what the service does not
 * carry: each member's role, the exact component versions each role runs (resolved once,
 * when the profile was applied, so a replacement gets what its peers run), the landscape
 * the cluster is confined to, and the nodes that left while dead and still hold
 * components (removed when they come back). A deletion is a tombstone.
 */
export const kLifecycleSubjectPrefix = 'farm/lifecycle/';
export const kLifecycleRecordKey = 'record';
/** Members a lifecycle record names at most: the cluster core's membersMax ceiling for profile clusters. */
export const kLifecycleMembersMax = 64;

const kComponentSchema = z
  .object({
    name: z.string().regex(kComponentNamePattern),
    version: z.string().refine(isSemver),
    config: z.record(z.unknown()).optional(),
    /** A farm component every agent runs (measurement, events, jobs, scripts): checked, never installed. */
    farm: z.boolean(),
  })
  .strict();

const kRecordSchema = z
  .object({
    format: z.literal(1),
    name: z.string().regex(kClusterNamePattern),
    /** name@version, exact. */
    profile: z.string().max(128),
    on: z.string().max(64).nullable(),
    /** Roles in start order, each with its components in start order. */
    roles: z.array(z.object({ role: z.string().max(64), components: z.array(kComponentSchema).max(64) }).strict()).max(32),
    members: z.array(z.object({ node: z.string().regex(kNodeIdPattern), role: z.string().max(64) }).strict()).max(kLifecycleMembersMax),
    leftovers: z.array(z.object({ node: z.string().regex(kNodeIdPattern), components: z.array(z.string().regex(kComponentNamePattern)).max(64) }).strict()).max(kLifecycleMembersMax),
    updatedAtMs: z.number(),
    deleted: z.boolean(),
  })
  .strict();

export type LifecycleRecord = z.infer<typeof kRecordSchema>;
export type LifecycleComponent = z.infer<typeof kComponentSchema>;

export function lifecycleSubject(name: string): string {
  return `${kLifecycleSubjectPrefix}${name}`;
}

export function encodeLifecycleRecord(record: LifecycleRecord): string {
  return JSON.stringify(record);
}

/** A replicated record checked again: a peer's bad value is no record (null). */
export function decodeLifecycleRecord(value: string | number | undefined): LifecycleRecord | null {
  return decodeReplicated(kRecordSchema, value);
}

/** A JSON value read from the FMIDB, checked again by `schema`: anything else (a peer's bad value) is null. */
export function decodeReplicated<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: string | number | undefined): T | null {
  if (typeof value !== 'string') return null;
  try {
    const parsed = schema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The components of a role in start order (empty for a role the record does not hold). */
export function roleComponents(record: Pick<LifecycleRecord, 'roles'>, role: string): readonly LifecycleComponent[] {
  return record.roles.find((r) => r.role === role)?.components ?? [];
}
