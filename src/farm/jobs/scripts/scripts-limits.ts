/**
 * Every bound of the remote script service, unit last. A run's memory on its
 * coordinator is nodes x phases x the output kept per node, reserved at admission
 * against kScriptOutputBudgetChars like the jobs service's tails.
 */
const kKiB = 1024;
const kMiB = 1024 * kKiB;

/**
 * Characters of a script. It travels inside an API body (64 KiB by default, JSON
 * escaped), in every job start message (a stream frame of the jobs-coordination
 * channel), and as one `bash -c` argument (Linux refuses single arguments beyond
 * 128 KiB): 32 Ki characters fit all three.
 */
export const kScriptCharsMax = 32 * kKiB;
/** Phases of one script: a rollout has a handful (prepare, switch, verify), not dozens. */
export const kPhasesMax = 16;
/** Characters of a phase name. */
export const kPhaseNameLengthMax = 64;
/** Arguments passed to the script ($1 ...). */
export const kScriptArgsMax = 64;
/** Nodes one run targets at most. */
export const kScriptNodesMax = 4096;
/** Runs one coordinator holds, live and finished; finished ones are forgotten oldest first. */
export const kScriptRunsMax = 256;
/**
 * Output captured per node, phase and stream by the batch's job (its outputBytesMax):
 * the last 16 KiB, where a failing script's error is.
 */
export const kScriptJobOutputBytes = 16 * kKiB;
/** Of that, characters kept in the run's own record per node, phase and stream (the job keeps the rest while it is held). */
export const kScriptOutputCharsKept = 4 * kKiB;
/** Characters of output all held runs may keep together (each run reserves nodes x phases x 2 x kScriptOutputCharsKept). */
export const kScriptOutputBudgetChars = 256 * kMiB;
/**
 * JSON characters of one stored log record, and of one show answer: under the component
 * RPC body bound (1 Mi characters), with room for the envelope. A record beyond it keeps
 * its counts and exit codes and drops merged output texts, largest first.
 */
export const kScriptRecordJsonCharsMax = 768 * kKiB;
/** How long the coordinator holds one wait on a batch's job, ms (under the jobs service's own cap). */
export const kBatchWaitMs = 20_000;
/** Stored logs kept per management node; the oldest are deleted first. */
export const kLogsKeptMax = 1000;
/** Waiters (scripts.wait long-polls) held at once per coordinator. */
export const kScriptWaitersMax = 64;
/** Longest a scripts.wait may hold, ms. */
export const kScriptWaitMsMax = 25_000;
