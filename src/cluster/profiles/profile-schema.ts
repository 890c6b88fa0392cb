import { z } from 'zod';
import { isSemver, parseSemverRange } from '../../farm/install/semver.js';
import { kKeyPattern } from '../../farm/data/landscape/column-assignment.js';
import { kLandscapeNamePattern } from '../../farm/data/landscape/landscape-record.js';
import {
  kChannelsMax,
  kComponentsPerRoleMax,
  kDescriptionLengthMax,
  kFailureTimeoutMsMax,
  kFailureTimeoutMsMin,
  kHeartbeatIntervalMsMax,
  kHeartbeatIntervalMsMin,
  kMixinsMax,
  kPlacementSqlLengthMax,
  kReferencesMax,
  kRoleMembersMax,
  kRolesMax,
} from './profile-limits.js';

/**
 * The profile format (see README.md beside this file), as zod schemas in two modes:
 *
 *  - `fragment`: what one file may say. Every field is optional and may be `null` (a
 *    deletion of what a parent or mixin set), list items may carry `$remove: true`, but
 *    types, bounds and unknown keys are checked, so a typo is caught in the file that
 *    has it.
 *  - `complete`: what the composed profile must be. Required fields are required and
 *    nothing is null.
 *
 * One builder makes both so they cannot drift apart.
 */
export const kProfileApiVersion = 'galaxy/v1';
export const kProfileKinds = ['ClusterProfile', 'ProfileMixin'] as const;
export type ProfileKind = (typeof kProfileKinds)[number];

/** Profile, mixin, role, component and channel names: DNS-label-like, so they fit in `cluster/<name>/member/...` paths. */
export const kProfileNamePattern = /^[a-z][a-z0-9-]{0,62}$/;
/** `name` or `name@RANGE` (RANGE as in semver.ts; `base@1` is any 1.x). */
export const kProfileRefPattern = /^([a-z][a-z0-9-]{0,62})(?:@(.+))?$/;

export const kReliabilities = ['unreliable', 'reliable'] as const;
export const kOrderings = ['none', 'fifo', 'causal', 'total', 'safe'] as const;
export const kTrafficKinds = ['admin', 'components', 'failureDetection'] as const;
export type TrafficKind = (typeof kTrafficKinds)[number];

type Mode = 'fragment' | 'complete';

const kNameMessage = 'must be 1 to 63 of a-z 0-9 -, starting with a letter';

function name() {
  return z.string().regex(kProfileNamePattern, kNameMessage);
}

function bounded(min: number, max: number, unit: string) {
  return z
    .number({ invalid_type_error: `must be a number of ${unit}` })
    .int(`must be a whole number of ${unit}`)
    .min(min, `must be at least ${min} ${unit}`)
    .max(max, `must be at most ${max} ${unit}`);
}

const kAttribute = z.string().regex(kKeyPattern, 'must be an FMIDB attribute key: 1 to 64 of A-Z a-z 0-9 _ . -');
const kRange = z.string().refine((text) => parseSemverRange(text) !== null, (text) => ({ message: `"${text}" is not a version range (^1.2.0, ~1.2, 1.x, >=1.0.0 <2, ...)` }));
const kRef = z.string().refine((text) => {
  const match = kProfileRefPattern.exec(text);
  return match !== null && (match[2] === undefined || parseSemverRange(match[2]) !== null);
}, (text) => ({ message: `"${text}" is not a profile reference (name or name@range, e.g. base@^1)` }));

function references(what: string) {
  return z.array(name(), { invalid_type_error: `must be a list of ${what} names` }).max(kReferencesMax, `lists at most ${kReferencesMax} ${what}s`);
}

/** In fragment mode every field may be absent or null; in complete mode only optional ones may be absent. */
function field<T extends z.ZodTypeAny>(mode: Mode, schema: T, required: boolean) {
  if (mode === 'fragment') return schema.nullable().optional();
  return required ? schema : schema.optional();
}

function buildSchema(mode: Mode) {
  // Composition removes every item marked `$remove`, so a composed profile never has one.
  const removable = { $remove: z.literal(true, { errorMap: () => ({ message: 'is either absent or true' }) }).optional() };

  const count = z.union(
    [
      bounded(0, kRoleMembersMax, 'members'),
      z
        .object({ min: field(mode, bounded(0, kRoleMembersMax, 'members'), true), max: field(mode, bounded(1, kRoleMembersMax, 'members'), true) })
        .strict(),
    ],
    { errorMap: (issue, context) => (context.data === undefined ? { message: 'is required' } : issue.code === 'invalid_union' ? { message: `must be a whole number of members (0 to ${kRoleMembersMax}) or {min, max}` } : { message: context.defaultError }) },
  );

  const component = z
    .object({
      package: name(),
      version: field(mode, kRange, true),
      config: field(mode, z.record(z.unknown(), { invalid_type_error: 'must be a map of settings' }), false),
      after: field(mode, references('component'), false),
      channels: field(mode, references('channel'), false),
      ...removable,
    })
    .strict();

  const channel = z
    .object({
      name: name(),
      reliability: field(mode, z.enum(kReliabilities), true),
      ordering: field(mode, z.enum(kOrderings), true),
      ...removable,
    })
    .strict();

  const placement = z
    .object({
      landscape: field(mode, z.string().regex(kLandscapeNamePattern, 'must be a landscape name: 1 to 64 of A-Z a-z 0-9 _ . -'), false),
      sql: field(mode, z.string().min(1, 'must not be empty').max(kPlacementSqlLengthMax, `must be at most ${kPlacementSqlLengthMax} characters`), false),
      antiAffinity: field(
        mode,
        z.object({ attribute: field(mode, kAttribute, true), hard: field(mode, z.boolean(), false), scope: field(mode, z.enum(['role', 'cluster']), false) }).strict(),
        false,
      ),
    })
    .strict();

  const role = z
    .object({
      description: field(mode, z.string().max(kDescriptionLengthMax), false),
      count: field(mode, count, true),
      after: field(mode, references('role'), false),
      placement: field(mode, placement, false),
      components: field(mode, z.array(component).max(kComponentsPerRoleMax, `lists at most ${kComponentsPerRoleMax} components`), true),
    })
    .strict();

  const network = z.object({ attribute: field(mode, kAttribute, true) }).strict();

  const roles = z
    .record(name(), mode === 'fragment' ? role.nullable() : role)
    .refine((map) => Object.keys(map).length <= kRolesMax, `has at most ${kRolesMax} roles`);

  return z
    .object({
      apiVersion: z.literal(kProfileApiVersion, { errorMap: () => ({ message: `must be "${kProfileApiVersion}"` }) }),
      kind: z.enum(kProfileKinds, { errorMap: () => ({ message: `must be one of ${kProfileKinds.join(', ')}` }) }),
      name: name(),
      version: z.string().refine(isSemver, (text) => ({ message: `"${text}" is not a semantic version (1.0.0)` })),
      description: field(mode, z.string().max(kDescriptionLengthMax, `must be at most ${kDescriptionLengthMax} characters`), false),
      extends: field(mode, kRef, false),
      mixins: field(mode, z.array(kRef).max(kMixinsMax, `lists at most ${kMixinsMax} mixins`), false),
      failureDetector: field(
        mode,
        z
          .object({
            heartbeatIntervalMs: field(mode, bounded(kHeartbeatIntervalMsMin, kHeartbeatIntervalMsMax, 'ms'), true),
            timeoutMs: field(mode, bounded(kFailureTimeoutMsMin, kFailureTimeoutMsMax, 'ms'), true),
            timeoutMaxMs: field(mode, bounded(kFailureTimeoutMsMin, kFailureTimeoutMsMax, 'ms'), false),
            relayEvidence: field(mode, z.boolean({ invalid_type_error: 'must be true or false' }), false),
          })
          .strict(),
        true,
      ),
      networks: field(
        mode,
        z.object({ admin: field(mode, network, true), components: field(mode, network, true), failureDetection: field(mode, network, true) }).strict(),
        true,
      ),
      channels: field(mode, z.array(channel).max(kChannelsMax, `lists at most ${kChannelsMax} channels`), false),
      roles: field(mode, roles, true),
    })
    .strict();
}

/** What one file may say (before composition). */
export const kProfileFragmentSchema: z.ZodTypeAny = buildSchema('fragment');
/** What a composed profile must be; a parse result has the type Profile. */
export const kProfileSchema: z.ZodTypeAny = buildSchema('complete');

export type Reliability = (typeof kReliabilities)[number];
export type Ordering = (typeof kOrderings)[number];
export type RoleCount = number | { readonly min: number; readonly max: number };

export interface ProfileComponent {
  /** The package name in the package store (and the component's name on the node). */
  readonly package: string;
  /** A semver range (semver.ts); the highest known version in it is installed. */
  readonly version: string;
  readonly config?: Readonly<Record<string, unknown>>;
  /** Packages of the same role that must be started before this one. */
  readonly after?: readonly string[];
  /** Channels (declared at the top) this component opens. */
  readonly channels?: readonly string[];
}

export interface ProfilePlacement {
  /** Only members of this landscape. */
  readonly landscape?: string;
  /** Only nodes this SELECT over the FMIDB returns (as a landscape statement). */
  readonly sql?: string;
  /**
   * No two members of the role share a value of this attribute; `hard: false` only
   * prefers that; `scope: cluster` also keeps away from the values of members placed
   * for earlier roles (a backup not on its primary's rack).
   */
  readonly antiAffinity?: { readonly attribute: string; readonly hard?: boolean; readonly scope?: 'role' | 'cluster' };
}

export interface ProfileRole {
  readonly description?: string;
  readonly count: RoleCount;
  /** Roles whose members start their components before this role's members do. */
  readonly after?: readonly string[];
  readonly placement?: ProfilePlacement;
  readonly components: readonly ProfileComponent[];
}

export interface ProfileChannel {
  readonly name: string;
  readonly reliability: Reliability;
  readonly ordering: Ordering;
}

export interface NetworkChoice {
  /** The FMIDB attribute whose value on each node is its host address for this traffic (`address`, or `net.NAME` from `galaxy agent --network NAME=HOST`). */
  readonly attribute: string;
}

export interface Profile {
  readonly apiVersion: typeof kProfileApiVersion;
  readonly kind: ProfileKind;
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly extends?: string;
  readonly mixins?: readonly string[];
  /**
   * The cluster's focused failure detector (the cluster core's options): heartbeat
   * period, suspect timeout, the adaptive timeout's ceiling (suspectTimeoutMaxMs; absent:
   * twice timeoutMs) and whether evidence is relayed to the coordinator (relayEvidence;
   * absent: on).
   */
  readonly failureDetector: { readonly heartbeatIntervalMs: number; readonly timeoutMs: number; readonly timeoutMaxMs?: number; readonly relayEvidence?: boolean };
  readonly networks: Readonly<Record<TrafficKind, NetworkChoice>>;
  readonly channels?: readonly ProfileChannel[];
  readonly roles: Readonly<Record<string, ProfileRole>>;
}

/** A role's count as bounds: `3` is {min: 3, max: 3}. */
export function countBounds(count: RoleCount): { readonly min: number; readonly max: number } {
  return typeof count === 'number' ? { min: count, max: count } : { min: count.min, max: count.max };
}
