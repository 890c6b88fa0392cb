import type { JobsOpenOptions } from '../../core/stack/node-stack.js';
import type { JobsCommand, JobsStackEvent } from './agent-worker-protocol.js';

/**
 * The host's side of the job coordination that runs in the worker's NodeStack (the
 * JobCoordinatorCore and JobRunnerCore the simulator runs, nodes named by sender id):
 * it opens it, sends the operator's commands (create, add, stop, signal) and the
 * runner's host answers (launched, launch-failed, exited) in, and gets the stack's jobs
 * events out: the coordinator's process events, and the processes this node must run,
 * terminate or signal. AgentHost implements it over the worker protocol, as it does
 * FmidbLink; InProcessJobs (in-process-jobs.ts) over the same composition in this
 * thread, for nodes without a worker stack (tests); the jobs component's
 * JobsComponentLink (farm/jobs/jobs-component-link.ts) over its agent's AgentHost. The
 * jobs service's JobCoordinator and JobWorker drive whichever they are given.
 */
export interface JobsLink {
  /** Opens job coordination in the stack (once); launches are always confirmed by the host. */
  openJobs(options: JobsOpenOptions): void;
  /** One command; resolves once its events were delivered, rejects with the DomainError that refused it. */
  commandJobs(command: JobsCommand): Promise<void>;
  /** Every batch of jobs events, in order; returns the unsubscribe. */
  onJobs(listener: (events: readonly JobsStackEvent[]) => void): () => void;
}
