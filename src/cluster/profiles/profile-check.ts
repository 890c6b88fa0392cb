import { issueReason } from './profile-document.js';
import { formatPath, ProfileError, type ProfileErrorCode, type ProfileProblem } from './profile-error.js';
import { kClusterMembersMax, kTimeoutHeartbeatsMin } from './profile-limits.js';
import { originOf } from './profile-merge.js';
import type { Composition } from './profile-composer.js';
import { countBounds, kProfileSchema, type Profile } from './profile-schema.js';
import { startOrder } from './start-order.js';

/**
 * The composed profile against the complete schema, then the rules a schema cannot
 * say: count ranges, failure-detector timeout against the heartbeat, one placement
 * selector per role, dependencies that exist and form no cycle, channels that are
 * declared. Each problem names the file that set the offending value (after
 * composition, the path is in the composed profile, as `galaxy profile render` shows it).
 */
export function checkComposition(composition: Composition): Profile {
  const { document, tracked, value, lineage } = composition;
  const at = (code: ProfileErrorCode, path: ReadonlyArray<string | number>, reason: string): ProfileProblem => {
    const file = originOf(tracked, path);
    // Line numbers only where the composed path is the file's own path: nothing was
    // composed, or the value is the profile's own and no list index (which composition
    // may shift) is in the path.
    const ownPath = file === document.file && path.every((part) => typeof part === 'string');
    const place = lineage.length === 1 || ownPath ? document.locate(path) : undefined;
    return { code, file, path: formatPath(path), reason, ...(place === undefined ? {} : { line: place.line, column: place.column }) };
  };
  if (document.kind === 'ProfileMixin') throw new ProfileError([at('GALAXY_PROFILE_KIND', ['kind'], `${document.name}@${document.version} is a ProfileMixin: it is composed into profiles, not deployed`)]);
  const checked = kProfileSchema.safeParse(value);
  if (!checked.success) throw new ProfileError(checked.error.issues.map((issue) => at('GALAXY_PROFILE_SCHEMA', issue.path, issueReason(issue))));
  const profile = checked.data as Profile;
  const problems = semanticProblems(profile, at);
  if (problems.length > 0) throw new ProfileError(problems);
  return profile;
}

type At = (code: ProfileErrorCode, path: ReadonlyArray<string | number>, reason: string) => ProfileProblem;

function semanticProblems(profile: Profile, at: At): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  const { heartbeatIntervalMs, timeoutMs, timeoutMaxMs } = profile.failureDetector;
  if (timeoutMs < kTimeoutHeartbeatsMin * heartbeatIntervalMs) {
    problems.push(at('GALAXY_PROFILE_SEMANTICS', ['failureDetector', 'timeoutMs'], `${timeoutMs} ms is shorter than ${kTimeoutHeartbeatsMin} heartbeats of ${heartbeatIntervalMs} ms: one lost heartbeat would be a false death`));
  }
  if (timeoutMaxMs !== undefined && timeoutMaxMs < timeoutMs) {
    problems.push(at('GALAXY_PROFILE_SEMANTICS', ['failureDetector', 'timeoutMaxMs'], `${timeoutMaxMs} ms is shorter than timeoutMs (${timeoutMs} ms): the adaptive timeout's ceiling is at least its floor`));
  }
  const channels = new Set((profile.channels ?? []).map((c) => c.name));
  const roleNames = Object.keys(profile.roles);
  if (roleNames.length === 0) problems.push(at('GALAXY_PROFILE_SEMANTICS', ['roles'], 'has no roles: a cluster needs at least one'));
  let membersMin = 0;
  let membersMax = 0;
  for (const [roleName, role] of Object.entries(profile.roles)) {
    const { min, max } = countBounds(role.count);
    membersMin += min;
    membersMax += max;
    if (min > max) problems.push(at('GALAXY_PROFILE_SEMANTICS', ['roles', roleName, 'count'], `min ${min} is larger than max ${max}`));
    if (role.placement?.landscape !== undefined && role.placement.sql !== undefined) {
      problems.push(at('GALAXY_PROFILE_SEMANTICS', ['roles', roleName, 'placement'], 'gives both landscape and sql; give one (a landscape is a named SQL statement)'));
    }
    for (const [index, after] of (role.after ?? []).entries()) {
      if (after === roleName) problems.push(at('GALAXY_PROFILE_DEPENDENCY', ['roles', roleName, 'after', index], 'a role cannot start after itself'));
      else if (profile.roles[after] === undefined) problems.push(at('GALAXY_PROFILE_DEPENDENCY', ['roles', roleName, 'after', index], `no role "${after}" (roles: ${roleNames.join(', ')})`));
    }
    const packages = role.components.map((c) => c.package);
    role.components.forEach((component, index) => {
      for (const [j, after] of (component.after ?? []).entries()) {
        if (after === component.package) problems.push(at('GALAXY_PROFILE_DEPENDENCY', ['roles', roleName, 'components', index, 'after', j], 'a component cannot start after itself'));
        else if (!packages.includes(after)) problems.push(at('GALAXY_PROFILE_DEPENDENCY', ['roles', roleName, 'components', index, 'after', j], `no component "${after}" in role ${roleName} (components: ${packages.join(', ') || 'none'})`));
      }
      for (const [j, channel] of (component.channels ?? []).entries()) {
        if (!channels.has(channel)) problems.push(at('GALAXY_PROFILE_SEMANTICS', ['roles', roleName, 'components', index, 'channels', j], `channel "${channel}" is not declared in channels (declared: ${[...channels].join(', ') || 'none'})`));
      }
    });
    if (problems.length === 0) {
      const order = startOrder(role.components.map((c) => ({ name: c.package, after: c.after ?? [] })));
      if (!order.ok) problems.push(at('GALAXY_PROFILE_DEPENDENCY', ['roles', roleName, 'components'], `start-order cycle: ${order.cycle.join(' → ')}`));
    }
  }
  if (membersMin > kClusterMembersMax) problems.push(at('GALAXY_PROFILE_SEMANTICS', ['roles'], `needs at least ${membersMin} members; a cluster has at most ${kClusterMembersMax}`));
  if (roleNames.length > 0 && membersMax === 0) problems.push(at('GALAXY_PROFILE_SEMANTICS', ['roles'], 'every role has a count of 0: the cluster would be empty'));
  if (problems.length === 0) {
    const order = startOrder(roleNames.map((name) => ({ name, after: profile.roles[name]!.after ?? [] })));
    if (!order.ok) problems.push(at('GALAXY_PROFILE_DEPENDENCY', ['roles'], `role start-order cycle: ${order.cycle.join(' → ')}`));
  }
  return problems;
}
