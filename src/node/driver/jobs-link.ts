import type { JobsOpenOptions } from '../../core/stack/node-stack.js';
import type { JobsCommand, JobsStackEvent } from './agent-worker-protocol.js';

/**
 * The host's side of the job coordination that runs in the worker's NodeStack (the
 * JobCoordinatorCore and JobRunnerCore the simulator runs, nodes named by sender id):
 * it opens it, sends the operator's commands (create, add, stop, signal) and the
 * runner's host answers (launched, launch-failed, exited) in, and gets the stack's jobs
 * events out: the coordinator's process events, and the processes this node must run,
 * terminate or signal. AgentHost implements it over the worker protocol, as it does
 * FmidbLink.
 *
 * Not used by the agent yet: its job coordination still runs in the jobs component's
 * process over the farm RPC. Moving it needs a channel from the main thread to that
 * process (the component host and SDK) and JobCoordinator/JobWorker rewritten as
 * drivers of this link (issue 13).
 */
export interface JobsLink {
  /** Opens job coordination in the stack (once); launches are always confirmed by the host. */
  openJobs(options: JobsOpenOptions): void;
  /** One command; resolves once its events were delivered, rejects with the DomainError that refused it. */
  commandJobs(command: JobsCommand): Promise<void>;
  /** Every batch of jobs events, in order; returns the unsubscribe. */
  onJobs(listener: (events: readonly JobsStackEvent[]) => void): () => void;
}
