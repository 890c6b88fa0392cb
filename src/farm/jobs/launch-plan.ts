import { JobsError } from './jobs-error.js';
import type { ProcessSpec } from './job-spec.js';
import type { PasswdEntry } from './passwd.js';

/**
 * How one process of a job is started on this node: program, arguments, user, working
 * directory and environment, decided from its spec and the facts of the node. Pure, so
 * the refusals and the limit wrapper are tested without starting anything.
 *
 * Memory. Node cannot call setrlimit for a child, and cgroups need a delegated hierarchy
 * an agent cannot count on (this one may run in a container under cgroup v1). What works
 * on every Linux is the shell's `ulimit -v`: the process is started through
 * `/bin/sh -c 'ulimit -v KiB ... exec "$@"'`, which sets RLIMIT_AS and then replaces
 * itself with the command (same pid, same process group, argv untouched: the command is
 * still not interpreted by a shell). RLIMIT_AS bounds the address space, not the
 * resident set: an allocation beyond it fails (malloc returns NULL, a JVM or Node may
 * need a higher limit than their heap because they reserve address space up front)
 * rather than the kernel's OOM killer ending the process. If the limit cannot be set the
 * process does not run and exits with kMemoryLimitExitCode, its reason on stderr.
 *
 * Users. Running as another user needs the agent to be root (spawn's uid/gid, which
 * also drops supplementary groups); otherwise only the agent's own user is allowed, and
 * any other is refused with GALAXY_JOBS_USER_NOT_PERMITTED rather than silently run as
 * the agent.
 */
export const kMemoryLimitExitCode = 125;
export const kLimitShell = '/bin/sh';
const kLimitScript = `ulimit -v "$1" 2>/dev/null || { echo "galaxy: cannot set the memory limit (ulimit -v $1)" >&2; exit ${kMemoryLimitExitCode}; }; shift; exec "$@"`;

/** Facts about this node the plan depends on. */
export interface NodeFacts {
  readonly nodeId: string;
  /** The agent's uid (process.getuid()). */
  readonly uid: number;
  /** The agent's user name, when /etc/passwd names it. */
  readonly userName: string | null;
  /** Looks a user up (in /etc/passwd). */
  readonly lookupUser: (name: string) => PasswdEntry | null;
  /** The agent's environment, as processes inherit it. */
  readonly environment: Readonly<Record<string, string | undefined>>;
  /** Default working directory when the spec names none and no user home applies. */
  readonly temporaryDirectory: string;
  /** Whether a directory exists (a user's home often does not: nobody's is /nonexistent). */
  readonly directoryExists: (path: string) => boolean;
}

export interface LaunchPlan {
  readonly file: string;
  readonly args: readonly string[];
  readonly uid: number | null;
  readonly gid: number | null;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** Where the process is in the farm, passed to it as GALAXY_* variables. */
export interface ProcessIdentity {
  readonly jobId: string;
  readonly index: number;
}

const kDefaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function launchPlan(spec: ProcessSpec, facts: NodeFacts, identity: ProcessIdentity): LaunchPlan {
  const user = runAs(spec.user, facts);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(facts.environment)) if (value !== undefined) env[key] = value;
  env['PATH'] ??= kDefaultPath;
  if (user !== null) Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name });
  Object.assign(env, spec.env ?? {}, { GALAXY_JOB_ID: identity.jobId, GALAXY_PROCESS_INDEX: String(identity.index), GALAXY_NODE_ID: facts.nodeId });
  const cwd = spec.cwd ?? (user !== null && user.home.startsWith('/') && facts.directoryExists(user.home) ? user.home : facts.temporaryDirectory);
  const [file, ...args] = spec.memoryMb === undefined ? spec.command : [kLimitShell, '-c', kLimitScript, 'galaxy-job', String(spec.memoryMb * 1024), ...spec.command];
  return { file: file!, args, uid: user?.uid ?? null, gid: user?.gid ?? null, cwd, env };
}

/** The user to switch to, or null to stay the agent's user. */
function runAs(name: string | undefined, facts: NodeFacts): PasswdEntry | null {
  if (name === undefined) return null;
  if (facts.uid !== 0) {
    if (name === facts.userName) return null;
    throw new JobsError('GALAXY_JOBS_USER_NOT_PERMITTED', `the agent on ${facts.nodeId} runs as ${facts.userName ?? `uid ${facts.uid}`}, not root: it cannot run processes as "${name}"`);
  }
  const entry = facts.lookupUser(name);
  if (entry === null) throw new JobsError('GALAXY_JOBS_USER_UNKNOWN', `no user "${name}" in /etc/passwd on ${facts.nodeId}`);
  return entry;
}
