import { createRuntime } from '../../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../../src/core/table/membership-table.js';
import { agentWorkerData } from '../../src/node/driver/agent-host.js';
import { agentSettings, type AgentOptions } from '../../src/node/driver/agent-options.js';
import type { AgentWorkerData } from '../../src/node/driver/agent-worker-protocol.js';

/** A NodeDriver's start data for `options`, built as AgentHost builds it, with a fixed seed. */
export function driverData(options: AgentOptions, seed: number, gossip?: boolean): AgentWorkerData {
  const settings = agentSettings(options);
  const runtime = createRuntime({ memoryBytes: settings.memoryBytes, backend: settings.backend });
  const table = MembershipTable.create(runtime, settings.config.membersMax);
  return agentWorkerData(settings, runtime, table, seed, gossip);
}
