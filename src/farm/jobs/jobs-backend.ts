import type { JobAddRequest, JobCreateRequest, JobSignal } from '../jobs/job-spec.js';
import type { JobSummary, JobView, JobWaitView, JobWatchView } from '../jobs/job-view.js';
import { kJobsServices } from '../jobs/jobs-wire.js';
import type { ScriptProgress } from './scripts/script-coordinator.js';
import type { StoredLog, StoredLogEntry } from './scripts/script-log-store.js';
import type { ScriptRunRequest } from './scripts/script-spec.js';
import type { ScriptSummary, ScriptView } from './scripts/script-view.js';
import { kScriptsServices } from './scripts/scripts-wire.js';

export type { JobSummary, JobView, JobWaitView, JobWatchView } from '../jobs/job-view.js';
export type { ScriptProgress } from './scripts/script-coordinator.js';
export type { ScriptSummary, ScriptView } from './scripts/script-view.js';

/**
 * What the job and script routes ask of the agent. Each method is one service of the
 * local jobs or scripts component, called with the body shown (the component checks it
 * again, forwards a request about a job held elsewhere to its coordinator, and throws
 * coded errors the routes map to HTTP statuses):
 *
 *   createJob     jobs.create    {request, by}
 *   addProcesses  jobs.add       {jobId, request}
 *   listJobs      jobs.list      {}
 *   showJob       jobs.show      {jobId, output?, process?}
 *   signalJob     jobs.signal    {jobId, signal, processes?}
 *   stopJob       jobs.stop      {jobId}
 *   waitJob       jobs.wait      {jobId, timeoutMs?}
 *   watchJob      jobs.watch     {jobId, after?, timeoutMs?}
 *   runScript     scripts.run    {request, by}
 *   listScripts   scripts.list   {}
 *   showScript    scripts.show   {runId, merged?, phase?, offset?, limit?}
 *   stopScript    scripts.stop   {runId}
 *   waitScript    scripts.wait   {runId, version?, timeoutMs?}
 *   scriptLogs    scripts.logs   {node?, runId?}
 *
 * componentJobsBackend() is that mapping, given a way to call a local component's
 * service (ComponentHost.request).
 */
export interface JobsBackend {
  createJob(request: JobCreateRequest, by: string): Promise<JobView>;
  addProcesses(jobId: string, request: JobAddRequest): Promise<JobView>;
  listJobs(): Promise<JobSummary[]>;
  showJob(jobId: string, options: { output?: boolean; process?: number }): Promise<JobView>;
  signalJob(jobId: string, signal: JobSignal, processes?: readonly number[]): Promise<JobView>;
  stopJob(jobId: string): Promise<JobView>;
  waitJob(jobId: string, timeoutMs?: number): Promise<JobWaitView>;
  watchJob(jobId: string, after?: number, timeoutMs?: number): Promise<JobWatchView>;
  runScript(request: ScriptRunRequest, by: string): Promise<ScriptSummary>;
  listScripts(): Promise<ScriptSummary[]>;
  showScript(runId: string, options: { merged?: boolean; phase?: number; offset?: number; limit?: number }): Promise<ScriptView>;
  stopScript(runId: string): Promise<ScriptSummary>;
  waitScript(runId: string, version?: number, timeoutMs?: number): Promise<ScriptProgress>;
  /** The logs kept on `node` (default this node), or one run's log. */
  scriptLogs(node?: string, runId?: string): Promise<StoredLogEntry[] | StoredLog>;
}

/** Calls `service` of the local component `component` with `body`; rejects with the service's coded error. */
export type ComponentServiceCall = (component: string, service: string, body: unknown, timeoutMs: number) => Promise<unknown>;

/** Answer timeout of a call that holds no wait, ms; and the margin over a held wait. */
const kCallTimeoutMs = 15_000;
const kWaitMarginMs = 5000;
/** What a wait holds when the request names no timeout (the services' default). */
const kDefaultHoldMs = 10_000;

/** The backend over the local components named `jobs` and `scripts` (kJobsComponent, kScriptsComponent). */
export function componentJobsBackend(call: ComponentServiceCall, components: { readonly jobs: string; readonly scripts: string } = { jobs: 'jobs', scripts: 'scripts' }): JobsBackend {
  const j = kJobsServices;
  const s = kScriptsServices;
  const jobs = (service: string, body: unknown, holdMs = 0) => call(components.jobs, service, body, holdMs === 0 ? kCallTimeoutMs : holdMs + kWaitMarginMs);
  const scripts = (service: string, body: unknown, holdMs = 0) => call(components.scripts, service, body, holdMs === 0 ? kCallTimeoutMs : holdMs + kWaitMarginMs);
  const defined = <T extends Record<string, unknown>>(body: T) => Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
  return {
    createJob: async (request, by) => (await jobs(j.create, { request, by })) as JobView,
    addProcesses: async (jobId, request) => (await jobs(j.add, { jobId, request })) as JobView,
    listJobs: async () => (await jobs(j.list, {})) as JobSummary[],
    showJob: async (jobId, options) => (await jobs(j.show, defined({ jobId, output: options.output, process: options.process }))) as JobView,
    signalJob: async (jobId, signal, processes) => (await jobs(j.signal, defined({ jobId, signal, processes }))) as JobView,
    stopJob: async (jobId) => (await jobs(j.stop, { jobId })) as JobView,
    waitJob: async (jobId, timeoutMs) => (await jobs(j.wait, defined({ jobId, timeoutMs }), timeoutMs ?? kDefaultHoldMs)) as JobWaitView,
    watchJob: async (jobId, after, timeoutMs) => (await jobs(j.watch, defined({ jobId, after, timeoutMs }), timeoutMs ?? kDefaultHoldMs)) as JobWatchView,
    runScript: async (request, by) => (await scripts(s.run, { request, by })) as ScriptSummary,
    listScripts: async () => (await scripts(s.list, {})) as ScriptSummary[],
    showScript: async (runId, options) => (await scripts(s.show, defined({ runId, ...options }))) as ScriptView,
    stopScript: async (runId) => (await scripts(s.stop, { runId })) as ScriptSummary,
    waitScript: async (runId, version, timeoutMs) => (await scripts(s.wait, defined({ runId, version, timeoutMs }), timeoutMs ?? kDefaultHoldMs)) as ScriptProgress,
    scriptLogs: async (node, runId) => (await scripts(s.logs, defined({ node, runId }))) as StoredLogEntry[] | StoredLog,
  };
}
