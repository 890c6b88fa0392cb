import { performance } from 'node:perf_hooks';
import { resolveLandscapeConfig } from '../../farm/data/landscape/landscape-config.js';
import { LandscapeError } from '../../farm/data/landscape/landscape-error.js';
import { evaluateStatement } from '../../farm/data/landscape/landscape-evaluation.js';
import { compileStatement } from '../../farm/data/landscape/landscape-statement.js';
import { NodeMirror, type NodeChange } from '../../farm/data/landscape/node-mirror.js';
import { ProfileError } from './profile-error.js';
import type { FarmNode } from './profile-placement.js';
import type { Profile } from './profile-schema.js';

/**
 * The placement SQL of a profile's roles, evaluated the way a landscape statement is
 * (the landscape engine's own checks and SQLite mirror), over nodes given as data: how
 * `galaxy profile place --nodes nodes.json` previews SQL placement without an agent.
 * On an agent the same statements run against its FMIDB mirror instead. The result is
 * the `queries` input of placeProfile. As in the FMIDB mirror, a node without attributes
 * is not a row of `nodes`, so no statement returns it.
 */
export function evaluatePlacementQueries(profile: Profile, nodes: readonly FarmNode[]): Record<string, string[]> {
  const statements = [...new Set(Object.values(profile.roles).flatMap((role) => (role.placement?.sql === undefined ? [] : [role.placement.sql])))];
  if (statements.length === 0) return {};
  const config = resolveLandscapeConfig();
  const mirror = new NodeMirror(config);
  try {
    const changes: NodeChange[] = nodes.flatMap((node) => Object.entries(node.attributes).flatMap(([key, value]) => (value === null || value === undefined ? [] : [{ subject: node.id, key, value }])));
    for (let at = 0; at < changes.length; at += config.batchChangesMax) mirror.applyChanges(changes.slice(at, at + config.batchChangesMax));
    const results: Record<string, string[]> = {};
    for (const sql of statements) {
      try {
        const compiled = compileStatement(mirror.database, sql, config.statementLengthMax);
        const evaluation = evaluateStatement(compiled, mirror.nodeIds, { rowsMax: config.evaluationRowsMax, durationMsMax: config.evaluationMsMax }, () => performance.now());
        results[sql] = [...evaluation.members].sort();
      } catch (error) {
        if (!(error instanceof LandscapeError)) throw error;
        const role = Object.entries(profile.roles).find(([, body]) => body.placement?.sql === sql)![0];
        throw ProfileError.of('GALAXY_PROFILE_SEMANTICS', `${profile.name}@${profile.version}`, `roles.${role}.placement.sql`, `${error.code}: ${error.message}`);
      }
    }
    return results;
  } finally {
    mirror.close();
  }
}
