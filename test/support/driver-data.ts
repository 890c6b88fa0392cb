import { createRuntime } from '../../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../../src/core/table/membership-table.js';
import { agentWorkerData } from '../../src/node/driver/agent-host.js';
import { agentSettings, type AgentOptions } from '../../src/node/driver/agent-options.js';
import type { AgentWorkerData, AgentWorkerReport } from '../../src/node/driver/agent-worker-protocol.js';
import { NodeDriver } from '../../src/node/driver/node-driver.js';
import { isAdmissionDatagram } from '../../src/farm/admission/admission-wire.js';

/** A NodeDriver's start data for `options`, built as AgentHost builds it, with a fixed seed. */
export function driverData(options: AgentOptions, seed: number, gossip?: boolean): AgentWorkerData {
  const settings = agentSettings(options);
  const runtime = createRuntime({ memoryBytes: settings.memoryBytes, backend: settings.backend });
  const table = MembershipTable.create(runtime, settings.config.membersMax);
  return agentWorkerData(settings, runtime, table, seed, gossip);
}

/** A started NodeDriver in this thread and every report it made. */
export interface RunningDriver {
  readonly driver: NodeDriver;
  readonly reports: AgentWorkerReport[];
}

/** Starts a gossiping NodeDriver for `options` (driverData) and adds it to `started`, for the test's teardown. */
export async function startDriver(options: AgentOptions, seed: number, started: NodeDriver[]): Promise<RunningDriver> {
  const reports: AgentWorkerReport[] = [];
  const driver = new NodeDriver({ data: driverData(options, seed, true), report: (r) => reports.push(r), isAdmissionDatagram });
  await driver.start();
  started.push(driver);
  return { driver, reports };
}
