/**
 * The piscina task of `galaxy simulate`: one whole study per task, in its own thread,
 * reporting progress over the MessagePort it was handed. A whole run is the unit of
 * parallelism because one simulation is one ordered stream of events from one seed:
 * splitting it by packet would need a lock step per event and lose determinism.
 */
import type { MessagePort } from 'node:worker_threads';
import { runStudy } from '../../../sim/study/run-study.js';
import type { StudyResult } from '../../../sim/study/study-result.js';
import type { StudySpec } from '../../../sim/study/study-spec.js';

export interface SimulateTask {
  spec: StudySpec;
  port: MessagePort;
}

export interface SimulateTaskResult {
  result: StudyResult;
  wallMs: number;
}

/** Progress messages are sent at most this often, wall ms, so a fast run does not flood the port. */
const kProgressEveryMs = 200;

export function runSimulateTask(task: SimulateTask): SimulateTaskResult {
  const started = performance.now();
  let lastPostMs = -Infinity;
  try {
    const result = runStudy(task.spec, (progress) => {
      const now = performance.now();
      if (now - lastPostMs < kProgressEveryMs && progress.simulatedMs < progress.totalMs) return;
      lastPostMs = now;
      task.port.postMessage(progress);
    });
    return { result, wallMs: Math.round(performance.now() - started) };
  } finally {
    task.port.close();
  }
}

export default runSimulateTask;
