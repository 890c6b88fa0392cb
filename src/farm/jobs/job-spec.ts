import { z } from 'zod';
import {
  kArgumentLengthMax,
  kCommandArgsMax,
  kCommandLengthMax,
  kEnvironmentEntriesMax,
  kEnvironmentValueLengthMax,
  kMemoryMbMax,
  kMemoryMbMin,
  kStreamTailBytesMax,
  kStreamTailBytesMin,
  kTargetNodesMax,
  kTimeoutMsMax,
  kTimeoutMsMin,
} from './jobs-limits.js';

/**
 * What a job is asked to run, as schemas shared by the API (which validates the
 * operator's request) and the jobs component (which validates the same request again
 * when it arrives from another node: a farm message is input too). Every object is
 * strict, so a misspelt option fails instead of silently doing the default.
 */

/** A node id: 16 lowercase hex digits, as the agent derives it from its key. */
export const kNodeIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'a node id is 16 lowercase hex digits');
/** As the landscape registry names landscapes; farm.resolve checks that it exists. */
export const kLandscapeNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a landscape name is 1 to 64 of A-Z a-z 0-9 _ . - starting with a letter or digit');
/** Characters of a SQL target statement; the landscape engine applies its own bounds and checks. */
export const kTargetSqlLengthMax = 16 * 1024;

/**
 * Where a job runs: named nodes, the nodes of a landscape, or the nodes a SQL statement
 * selects; exactly one. Checked as one object with three optional fields rather than a
 * union, so a mistake is reported on the field (`target.nodes.0: a node id is ...`)
 * instead of as "invalid input" for the whole target.
 */
export const kJobTargetSchema = z
  .object({
    nodes: z.array(kNodeIdSchema).min(1, 'name at least one node').max(kTargetNodesMax).optional(),
    landscape: kLandscapeNameSchema.optional(),
    sql: z.string().min(1, 'the statement is empty').max(kTargetSqlLengthMax).optional(),
  })
  .strict()
  .refine((t) => [t.nodes, t.landscape, t.sql].filter((v) => v !== undefined).length === 1, 'a target is exactly one of {nodes: [ids]}, {landscape: name} or {sql: statement}')
  .transform((t): { nodes: string[] } | { landscape: string } | { sql: string } => (t.nodes !== undefined ? { nodes: t.nodes } : t.landscape !== undefined ? { landscape: t.landscape } : { sql: t.sql! }));
export type JobTarget = z.infer<typeof kJobTargetSchema>;

/**
 * Signals an operator may send. Named, not numbered: numbers differ between platforms.
 * SIGSTOP and SIGCONT pause and resume a process group (its timeout keeps running).
 */
export const kJobSignals = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGSTOP', 'SIGCONT'] as const;
export const kJobSignalSchema = z.enum(kJobSignals);
export type JobSignal = z.infer<typeof kJobSignalSchema>;

/** A Unix user name as useradd accepts it (the POSIX portable set); looked up in /etc/passwd on each node. */
export const kUserNameSchema = z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}\$?$/, 'a user name is 1 to 32 of a-z 0-9 _ . - starting with a letter or _');
/** Variables the jobs service sets for every process (launch-plan.ts); a request cannot set them. */
export const kReservedEnvironmentNames: ReadonlySet<string> = new Set(['GALAXY_JOB_ID', 'GALAXY_PROCESS_INDEX', 'GALAXY_NODE_ID']);
const kEnvironmentNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment name is 1 to 128 of A-Z a-z 0-9 _ not starting with a digit')
  .refine((name) => !kReservedEnvironmentNames.has(name), 'GALAXY_JOB_ID, GALAXY_PROCESS_INDEX and GALAXY_NODE_ID are set by the jobs service');

const kArgumentSchema = z
  .string()
  .max(kArgumentLengthMax)
  .refine((arg) => !arg.includes('\0'), 'an argument cannot contain NUL');

/** argv: run without a shell, so nothing in an argument is interpreted; argv[0] is looked up in PATH. */
export const kCommandSchema = z
  .array(kArgumentSchema)
  .min(1, 'the command is empty')
  .max(kCommandArgsMax)
  .refine((args) => args[0] !== '', 'the program name (argv[0]) is empty')
  .refine((args) => args.reduce((sum, arg) => sum + arg.length, 0) <= kCommandLengthMax, `the command is longer than ${kCommandLengthMax} characters`);

/** How each process of a job runs: the same on every node of the job. */
export const kProcessSpecSchema = z
  .object({
    command: kCommandSchema,
    /** Wall-clock limit, ms: then SIGTERM to its process group, SIGKILL kKillGraceMs later. None: no limit. */
    timeoutMs: z.number().int().min(kTimeoutMsMin).max(kTimeoutMsMax).optional(),
    /** Address-space limit, MiB (RLIMIT_AS through the shell's ulimit -v; see launch-plan.ts). */
    memoryMb: z.number().int().min(kMemoryMbMin).max(kMemoryMbMax).optional(),
    /** Run as this user (needs the agent to run as root); none: the agent's own user. */
    user: kUserNameSchema.optional(),
    /** Added to the process's environment. */
    env: z
      .record(kEnvironmentNameSchema, z.string().max(kEnvironmentValueLengthMax).refine((v) => !v.includes('\0'), 'an environment value cannot contain NUL'))
      .refine((env) => Object.keys(env).length <= kEnvironmentEntriesMax, `at most ${kEnvironmentEntriesMax} environment entries`)
      .optional(),
    /** Working directory (absolute); none: the user's home when running as another user, else the system's temporary directory. */
    cwd: z.string().min(1).max(4096).startsWith('/', 'cwd must be an absolute path').optional(),
    /** Captured output kept per stream, bytes: the last this many (default kStreamTailBytesDefault). */
    outputBytesMax: z.number().int().min(kStreamTailBytesMin).max(kStreamTailBytesMax).optional(),
  })
  .strict();
export type ProcessSpec = z.infer<typeof kProcessSpecSchema>;

/** A job to create: where, and how each process runs. */
export const kJobCreateSchema = kProcessSpecSchema.extend({ target: kJobTargetSchema }).strict();
export type JobCreateRequest = z.infer<typeof kJobCreateSchema>;

/**
 * Processes added to a running job. Their own command and limits may differ from the
 * job's first ones; what is not given is taken from the job's creation request.
 */
export const kJobAddSchema = kProcessSpecSchema.partial().extend({ target: kJobTargetSchema }).strict();
export type JobAddRequest = z.infer<typeof kJobAddSchema>;
