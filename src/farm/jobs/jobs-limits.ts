/**
 * Every bound of the jobs service, in one place, with its unit last. The coordinator
 * holds the job table and the captured output in one component process whose heap is
 * bounded (the component host's memoryMb), so each of these bounds what one careless
 * request can make it hold; the product of the per-job bounds is kept under the
 * coordinator's output budget (kOutputBudgetBytes) at admission, not discovered later.
 */

const kKiB = 1024;
const kMiB = 1024 * kKiB;

/** Jobs one coordinator holds, live and finished; finished ones are evicted oldest first to make room. */
export const kJobsMax = 1024;
/** Processes in one job, across all its nodes and all additions. */
export const kProcessesPerJobMax = 4096;
/** Target nodes one create or add names at most (a landscape or SQL statement resolving to more is refused). */
export const kTargetNodesMax = 4096;
/** Arguments in one command (argv[0] included). */
export const kCommandArgsMax = 1024;
/**
 * Characters in one argument. A script ships as one `bash -c` argument, so this must
 * hold the largest script (kScriptBytesMax); Linux refuses single arguments beyond
 * MAX_ARG_STRLEN (128 KiB) anyway.
 */
export const kArgumentLengthMax = 64 * kKiB;
/** Characters of the whole command line, all arguments together (Linux ARG_MAX is 2 MiB with the environment). */
export const kCommandLengthMax = 256 * kKiB;
/** Environment entries a job may add. */
export const kEnvironmentEntriesMax = 128;
/** Characters in one environment value. */
export const kEnvironmentValueLengthMax = 4 * kKiB;

/** Longest a process may run, ms (a day): longer work belongs in a service, not a job. */
export const kTimeoutMsMax = 24 * 60 * 60 * 1000;
/** Shortest timeout, ms: below it the SIGTERM would race the start. */
export const kTimeoutMsMin = 100;
/**
 * Between SIGTERM and SIGKILL when a process times out or its job is stopped, ms: long
 * enough for a well-behaved program to flush and exit, short enough that a stop is felt.
 */
export const kKillGraceMs = 3000;
/** Memory limit range, MiB (address space, see launch-plan.ts). Below 16 MiB not even a shell starts. */
export const kMemoryMbMin = 16;
export const kMemoryMbMax = 1024 * 1024;

/** Captured output kept per process and stream by default: the last 1 MiB, the head dropped and counted. */
export const kStreamTailBytesDefault = kMiB;
/** Range a job may choose for its per-stream tail. */
export const kStreamTailBytesMin = kKiB;
export const kStreamTailBytesMax = kMiB;
/**
 * Bytes of captured output the coordinator reserves for all the jobs it holds together
 * (each process reserves twice its stream tail: stdout and stderr). A create or add that
 * would exceed it evicts finished jobs, then is refused with GALAXY_JOBS_BUSY.
 */
export const kOutputBudgetBytes = 512 * kMiB;
/**
 * Recent output chunks kept per job for live watchers (jobs.watch), by JSON characters: a watcher
 * that falls further behind is told it missed some (gap) and continues from the oldest
 * kept; the per-process tails still hold the end of everything.
 */
export const kWatchJournalCharsMax = 4 * kMiB;
/** Chunks returned by one watch answer at most (the RPC and API bodies stay bounded). */
export const kWatchChunksMax = 512;
/**
 * JSON characters of chunk text returned by one watch answer at most. Counted as JSON
 * (binary output escapes to six characters a byte) because the answer crosses the
 * component's RPC boundary, whose bodies are at most 1 Mi characters of JSON.
 */
export const kWatchJsonCharsMax = 512 * kKiB;
/** JSON characters of captured output one show answer carries at most, all processes together (same reason). */
export const kViewOutputJsonCharsMax = 640 * kKiB;

/** On a node: output not yet delivered to the coordinator, per process; beyond it output is dropped and counted. */
export const kPendingOutputBytesMax = 512 * kKiB;
/**
 * On a node: one output report carries at most this many bytes, both streams together:
 * even escaped to JSON at six characters a byte (binary output) it stays under the
 * component RPC body bound of 1 Mi JSON characters.
 */
export const kOutputChunkBytesMax = 128 * kKiB;
/** On a node: how often buffered output is sent to the coordinator, ms: live enough for a human, few enough RPCs. */
export const kOutputFlushIntervalMs = 100;
/** On a node: processes running at once, all jobs together; a start beyond it is refused with GALAXY_JOBS_BUSY. */
export const kLocalProcessesMax = 1024;
/** On a node: ended processes remembered for probes and duplicate starts, oldest forgotten first. */
export const kEndedRememberedMax = 4096;
/** After a process's leader exits, how long its pipes may take to drain before its group is killed and the end reported, ms. */
export const kDrainMs = 1000;

/** Start requests in flight from one coordinator at once: a job on 4000 nodes starts in waves, not a flood. */
export const kStartConcurrencyMax = 64;
/** A start a node has not answered is sent again after this long, ms. */
export const kStartRetryMs = 3000;
/**
 * Starts sent before a process whose node never answers is lost: with kStartRetryMs,
 * a node has 15 s to answer, as long as a start RPC used to be given.
 */
export const kStartAttemptsMax = 5;
/** How often the coordinator asks each node with running processes whether they still run, ms. */
export const kProbeIntervalMs = 2000;
/**
 * Timeout of the RPC carrying one coordination message (start, probe, their answers,
 * end reports), ms. A probe's answer counts only if it arrives within its round
 * (kProbeIntervalMs); a lost message is resent by the core that needs it answered.
 */
export const kProbeTimeoutMs = 4000;
/** Coordination messages one side has in flight at most; beyond it they are dropped (and resent by the cores). */
export const kCoordinationMessagesInFlightMax = 4096;
/** On a node: an end report its coordinator has not acknowledged is sent again after this long, ms. */
export const kEndRetryMs = 1000;
/**
 * Consecutive unanswered probe rounds after which a node's processes are lost. With
 * the interval above, a node that stops answering (its jobs component hung, the node
 * partitioned while gossip still counts it alive) is given up within
 * (kProbeFailuresMax + 1) * kProbeIntervalMs = 8 s; a node that dies is seen sooner,
 * when the membership drops it.
 */
export const kProbeFailuresMax = 3;
/** Timeout of the RPCs a node sends its coordinator (output, end reports), ms. */
export const kReportTimeoutMs = 10_000;
/** Longest a wait or watch may hold its answer, ms: under the API client's 30 s request timeout. */
export const kWaitTimeoutMsMax = 25_000;
/** A wait or watch without a timeout holds this long, ms. */
export const kWaitTimeoutMsDefault = 10_000;
/**
 * Waiters (wait and watch long-polls) held at once per coordinator; more are answered at
 * once. Well under the component host's 256 requests in flight per component, so held
 * long-polls never crowd out the output and end reports the jobs need to finish.
 */
export const kWaitersMax = 64;
/** Characters of a reason (why a process failed or was lost). */
export const kReasonLengthMax = 512;
