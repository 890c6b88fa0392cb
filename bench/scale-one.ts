/**
 * Runs one scale scenario in this thread and prints its result as JSON, for profiling
 * and for measuring one figure without the whole benchmark:
 *
 *   node dist/bench/scale-one.js NODES KIND [LOSS] [WINDOW_MS] [SEED] [FAILED_PROBES_TO_SUSPECT]
 *   node --cpu-prof dist/bench/scale-one.js 1000 stalls 0 60000
 */
import { runScenario, type ScenarioKind } from './scale-scenario.js';

const [nodes = '1000', kind = 'false-positives', loss = '0', windowMs = '60000', seed, failed] = process.argv.slice(2);
const n = Number(nodes);
const result = runScenario({ nodes: n, kind: kind as ScenarioKind, seed: seed === undefined ? 1000 + n : Number(seed), lossRate: Number(loss), windowMs: Number(windowMs), ...(failed === undefined ? {} : { failedProbesToSuspect: Number(failed) }) });
console.log(JSON.stringify(result, null, 2));
