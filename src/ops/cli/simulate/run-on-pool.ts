import { MessageChannel } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { StudyProgress } from '../../../sim/study/study-result.js';
import type { PlannedRun } from './simulate-plan.js';
import type { SimulateTaskResult } from './simulate-worker.js';

export type RunOutcome =
  | { readonly ok: true; readonly run: PlannedRun; readonly value: SimulateTaskResult }
  | { readonly ok: false; readonly run: PlannedRun; readonly error: string };

export interface PoolCallbacks {
  onStart?: (index: number) => void;
  onProgress?: (index: number, progress: StudyProgress) => void;
  onDone?: (index: number, outcome: RunOutcome) => void;
}

/** Heap each simulation thread may use, MiB: a 10,000-node run needs about 4 GiB (README, "Simulating a farm"). */
const kWorkerHeapMb = 4096;

/**
 * Runs every planned run on a piscina pool of `parallel` threads, one whole simulation
 * per task, and returns the outcomes in plan order (whatever order they finish in).
 * A run that throws is an outcome with its error, not the end of the others.
 */
export async function runOnPool(runs: readonly PlannedRun[], parallel: number, callbacks: PoolCallbacks = {}): Promise<RunOutcome[]> {
  const pool = new Piscina({
    filename: fileURLToPath(new URL('./simulate-worker.js', import.meta.url)),
    minThreads: 1,
    maxThreads: parallel,
    // Tasks wait here, not in an unbounded queue of their own: at most one plan's worth.
    maxQueue: runs.length + 1,
    resourceLimits: { maxOldGenerationSizeMb: kWorkerHeapMb },
  });
  try {
    return await Promise.all(runs.map(async (run, index): Promise<RunOutcome> => {
      const channel = new MessageChannel();
      let started = false;
      channel.port1.on('message', (progress: StudyProgress) => {
        if (!started) {
          started = true;
          callbacks.onStart?.(index);
        }
        callbacks.onProgress?.(index, progress);
      });
      let outcome: RunOutcome;
      try {
        const value = (await pool.run({ spec: run.spec, port: channel.port2 }, { transferList: [channel.port2] })) as SimulateTaskResult;
        outcome = { ok: true, run, value };
      } catch (error) {
        outcome = { ok: false, run, error: (error as Error).message };
      } finally {
        channel.port1.close();
      }
      callbacks.onDone?.(index, outcome);
      return outcome;
    }));
  } finally {
    await pool.destroy();
  }
}
