/**
 * Where the agent's NodeDriver allocates while it absorbs sealed pings
 * (`node --expose-gc dist/bench/path-agent-allocations.js [wasm|ts] [members]`): bench:path's
 * agent rows (bench/path-agent.ts) with V8's sampling heap profiler over the steady
 * window, every allocation site with its bytes per datagram and the frames that led to
 * it. The inspector's own allocations show too.
 */
import { agentAbsorb } from './path-agent.js';

const backend = process.argv[2] === 'ts' ? 'ts' : 'wasm';
const members = Number(process.argv[3] ?? 10_000);
const row = await agentAbsorb({ members, backend, warmupMs: 1_000, windowMs: 1_500, heapWindowMs: 300, sites: true });
console.log(JSON.stringify(row));
process.exit(0);
