import { z } from 'zod';
import { resolveClusterMemberOptions, type ClusterMemberOptions } from '../../core/cluster/cluster-config.js';
import { DomainError } from '../../core/util/domain-error.js';
import { kLandscapeNamePattern } from '../../farm/data/landscape/landscape-record.js';
import { kClusterNamePattern, kNodeIdPattern } from './cluster-name.js';
import { kClusterNetworksSchema } from './cluster-networks.js';

/**
 * A cluster's definition as the FMIDB holds it (issue 17, item 2): subject
 * `farm/cluster/<name>`, key `definition`, the record as JSON. It replicates with the
 * rest of the FMIDB and survives any node's restart (the replica's snapshot); the
 * `farm/` prefix makes FarmData tell its listeners when one changes.
 *
 * - The member selection is explicit node ids, or a landscape (optionally its first
 *   `size` nodes in id order, so every node picks the same ones from the same landscape).
 * - `tuning` is the cluster's focused failure detector (ClusterMemberOptions' timers,
 *   the adaptive suspect timeout's ceiling suspectTimeoutMaxMs, membersMax,
 *   learnFromAcceptors and relayEvidence), checked by the cluster core's own resolver
 *   when written and when read.
 * - `profile` is recorded only (profile-driven creation is src/cluster/profiles').
 * - `networks` (issue 19's network selection, absent or null: the farm addresses) is
 *   each member's host per kind of traffic, from the profile's placement; the cluster
 *   service sends and accepts each kind there (cluster-networks.ts).
 * - `uid` tells a re-creation under the same name from the cluster deleted before it:
 *   incarnations are counted per uid, so the new cluster's members start at 0 and can
 *   form its first view.
 * - A deletion is a tombstone record (`deleted: true`), written over the definition
 *   with a newer stamp, so an older copy can never bring the cluster back.
 */
export const kClusterSubjectPrefix = 'farm/cluster/';
export const kClusterDefinitionKey = 'definition';
/** Explicit members a definition may name at most (the cluster core's membersMax ceiling). */
export const kClusterNodesMax = 1024;

export const kClusterTuningSchema = z
  .object({
    heartbeatIntervalMs: z.number().positive().optional(),
    suspectTimeoutMs: z.number().positive().optional(),
    roundTimeoutMs: z.number().positive().optional(),
    retransmitIntervalMs: z.number().positive().optional(),
    joinIntervalMs: z.number().positive().optional(),
    leaveLingerMs: z.number().positive().optional(),
    membersMax: z.number().int().positive().optional(),
    learnFromAcceptors: z.boolean().optional(),
    suspectTimeoutMaxMs: z.number().positive().optional(),
    relayEvidence: z.boolean().optional(),
  })
  .strict();

export type ClusterTuning = z.infer<typeof kClusterTuningSchema>;

const kRecordSchema = z
  .object({
    format: z.literal(1),
    name: z.string().regex(kClusterNamePattern),
    uid: z.string().regex(/^[0-9a-f]{16}$/),
    nodes: z.array(z.string().regex(kNodeIdPattern)).max(kClusterNodesMax).nullable(),
    landscape: z.string().regex(kLandscapeNamePattern).nullable(),
    size: z.number().int().positive().max(kClusterNodesMax).nullable(),
    tuning: kClusterTuningSchema,
    profile: z.string().max(128).nullable(),
    networks: kClusterNetworksSchema.nullable().optional(),
    createdAtMs: z.number(),
    createdBy: z.string(),
    updatedAtMs: z.number(),
    deleted: z.boolean(),
  })
  .strict();

export type ClusterDefinition = z.infer<typeof kRecordSchema>;

/** The FMIDB subject of a cluster's definition. */
export function clusterSubject(name: string): string {
  return `${kClusterSubjectPrefix}${name}`;
}

/** Checks the tuning with the cluster core's resolver; DomainError invalid GALAXY_CLUSTER_BAD_TUNING names the field. */
export function checkTuning(tuning: ClusterTuning): ClusterMemberOptions {
  try {
    resolveClusterMemberOptions(tuning);
  } catch (error) {
    if (error instanceof RangeError) throw new DomainError('invalid', 'GALAXY_CLUSTER_BAD_TUNING', error.message);
    throw error;
  }
  return tuning;
}

export function encodeDefinition(definition: ClusterDefinition): string {
  return JSON.stringify(definition);
}

/** A replicated record, checked again here: a peer's bad value defines nothing (null). */
export function decodeDefinition(value: string | number): ClusterDefinition | null {
  if (typeof value !== 'string') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const result = kRecordSchema.safeParse(parsed);
  if (!result.success) return null;
  const d = result.data;
  // Exactly one selection; a tombstone keeps the one it had.
  if ((d.nodes === null) === (d.landscape === null)) return null;
  try {
    resolveClusterMemberOptions(d.tuning);
  } catch {
    return null;
  }
  return d;
}

/**
 * The node ids a definition selects now, sorted: its explicit nodes, or its landscape's
 * nodes (through `landscapeNodes`, which throws for an unknown landscape), the first
 * `size` of them in id order.
 */
export function selectMembers(definition: ClusterDefinition, landscapeNodes: (landscape: string) => readonly string[]): string[] {
  if (definition.nodes !== null) return [...new Set(definition.nodes)].sort();
  const nodes = [...new Set(landscapeNodes(definition.landscape!))].sort();
  return definition.size === null ? nodes : nodes.slice(0, definition.size);
}
