import { DomainError, type FailureKind } from '../../core/util/domain-error.js';

/**
 * Stable codes for what is wrong with a profile. The CLI, the API and the tests match
 * on these, never on messages: ONLY APPEND, never rename.
 */
export const kProfileErrorCodes = Object.freeze([
  /** The file could not be read. */
  'GALAXY_PROFILE_UNREADABLE',
  /** The file is larger than kProfileBytesMax. */
  'GALAXY_PROFILE_TOO_LARGE',
  /** The YAML does not parse (line and column given), or holds more than one document. */
  'GALAXY_PROFILE_YAML',
  /** A field is missing, of the wrong type, out of its bounds or unknown (the schema). */
  'GALAXY_PROFILE_SCHEMA',
  /** A parent (`extends`) or mixin is not among the profiles known. */
  'GALAXY_PROFILE_NOT_FOUND',
  /** `extends` and `mixins` lead back to a profile already being composed. */
  'GALAXY_PROFILE_CYCLE',
  /** A profile extends a mixin, a mixin extends a profile, or a mixin is placed. */
  'GALAXY_PROFILE_KIND',
  /** Two files define the same name@version. */
  'GALAXY_PROFILE_DUPLICATE',
  /** A component or role depends on one that does not exist, or dependencies form a cycle. */
  'GALAXY_PROFILE_DEPENDENCY',
  /** The profile is well-formed but says something impossible (counts, timers, channels, placement). */
  'GALAXY_PROFILE_SEMANTICS',
  /** Placement cannot give a role its minimum count of nodes. */
  'GALAXY_PROFILE_PLACEMENT',
  /** Input to placement or a plan (nodes, landscapes, current state) is malformed. */
  'GALAXY_PROFILE_BAD_INPUT',
  /** The FMIDB registry of profiles refused a record (bad, too large, or full). */
  'GALAXY_PROFILE_REGISTRY',
  /** No profile of that name (or no version in that range) is stored in the FMIDB. */
  'GALAXY_PROFILE_UNKNOWN',
] as const);

export type ProfileErrorCode = (typeof kProfileErrorCodes)[number];

/**
 * The failure kind of each code (the API maps a kind to an HTTP status, the CLI to an
 * exit code).
 */
export type ProfileFailureKind = Extract<FailureKind, 'invalid' | 'not-found' | 'conflict' | 'too-large'>;

export function kindOf(code: ProfileErrorCode): ProfileFailureKind {
  switch (code) {
    case 'GALAXY_PROFILE_TOO_LARGE':
      return 'too-large';
    case 'GALAXY_PROFILE_DUPLICATE':
    case 'GALAXY_PROFILE_PLACEMENT':
    case 'GALAXY_PROFILE_REGISTRY':
      return 'conflict';
    case 'GALAXY_PROFILE_UNREADABLE':
    case 'GALAXY_PROFILE_UNKNOWN':
      return 'not-found';
    default:
      // A bad profile, a missing parent or bad input: the request is wrong.
      return 'invalid';
  }
}

/**
 * One thing wrong: which file, where inside it (a path such as
 * `roles.primary.components[1].version`, empty for the whole file), and why. Line and
 * column (1-based) when the place is known in the file's text.
 */
export interface ProfileProblem {
  readonly code: ProfileErrorCode;
  readonly file: string;
  readonly path: string;
  readonly reason: string;
  readonly line?: number;
  readonly column?: number;
}

export function formatProblem(problem: ProfileProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}:${problem.column ?? 1}`;
  return problem.path === '' ? `${where}: ${problem.reason}` : `${where}: ${problem.path}: ${problem.reason}`;
}

/**
 * Every problem found in one pass (a person fixing a profile wants all of them at
 * once, not one per run); the code is the first problem's.
 */
export class ProfileError extends DomainError {
  declare readonly code: ProfileErrorCode;
  declare readonly kind: ProfileFailureKind;
  readonly problems: readonly ProfileProblem[];

  constructor(problems: readonly ProfileProblem[]) {
    if (problems.length === 0) throw new Error('a ProfileError needs at least one problem');
    super(kindOf(problems[0]!.code), problems[0]!.code, problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }

  static of(code: ProfileErrorCode, file: string, path: string, reason: string): ProfileError {
    return new ProfileError([{ code, file, path, reason }]);
  }
}

/** `roles.primary.components[1].version` from ['roles', 'primary', 'components', 1, 'version']. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(part)) text += text === '' ? part : `.${part}`;
    else text += `[${JSON.stringify(part)}]`;
  }
  return text;
}
